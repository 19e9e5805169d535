"""The frame every form dialog shares: centred over a dimmed screen, a titled box."""


def form_frame_css(width: int) -> str:
    """CSS rules to nest in a form screen's own block; ``width`` is the box's, in columns."""
    return f"""
    align: center middle;
    background: $background 60%;
    & > Vertical {{
        width: {width};
        max-width: 100%;
        height: auto;
        max-height: 100%;
        padding: 0 1;
        border: round $primary;
        background: $panel;
        border-title-color: $primary;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
    }}
"""
