"""Reports: the figures (`plots`), the record of decisions and looks at held-out data, and the
documents rendered from templates. The top layer below the command line.
"""
