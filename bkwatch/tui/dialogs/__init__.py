"""The add / remove dialogs, the help screen and the command palette."""
