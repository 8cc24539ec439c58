"""Why something failed: the log view (`l`), the failure signatures (`w`), and what the cursor
points at when either opens.
"""
