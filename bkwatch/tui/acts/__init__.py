"""Task operations on screen (`x`): the actions menu, the confirmation, the one action in flight
and its result.
"""
