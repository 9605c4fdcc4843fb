"""The landing contract between the receiver (writes) and the loader (reads).

layout.py   where landing files live and what they are called; the sealed-file listing
envelope.py push ids, receive times, the envelope line and its validation
parsing.py  lenient parsing of push bodies (JSON as the vendor sends it, and form bodies)
durable.py  file writes that survive a crash (fsync of data and directory entries)
"""
