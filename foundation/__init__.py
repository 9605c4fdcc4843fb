"""The foundation every component shares, importing nothing else of pbx55.

settings.py  the one reader of the environment
landing/     the receiver-to-loader contract: layout and names, envelope, lenient parsing,
             durable file I/O
"""
