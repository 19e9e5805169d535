"""Output of child processes as a terminal would show it: one mechanism for processes, scripts, SSH.

``lines`` turns a byte stream into complete lines (``\\r`` rewrites, long lines
cut at a character boundary, partial lines on request); ``ansi`` keeps colour
(SGR) and makes every other control sequence harmless; ``budget`` holds the
byte budgets that bound the memory output may take.
"""
