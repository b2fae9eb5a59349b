"""The typeface invoices are set in: Source Sans Pro, a Unicode font that
the `font-source-sans-pro` package ships (SIL Open Font License), so a
buyer named "Zoë Überstudio GmbH" or "Łódź Sp. z o.o." prints as written
and every currency symbol has its glyph, on any machine pip installs to."""

from __future__ import annotations

from pathlib import Path

import font_source_sans_pro

FAMILY = "SourceSans"
FOLDER = Path(font_source_sans_pro.font_directory)
STYLES = {"": "SourceSansPro-Regular.ttf", "B": "SourceSansPro-Bold.ttf", "I": "SourceSansPro-It.ttf"}


def font_files() -> dict[str, Path]:
    """Style ("", "B", "I") to its TrueType file; a missing file is an install fault."""
    found = {style: FOLDER / name for style, name in STYLES.items()}
    missing = [str(path) for path in found.values() if not path.is_file()]
    if missing:
        raise RuntimeError(
            f"the invoice font is not installed: {', '.join(missing)} (pip install font-source-sans-pro)"
        )
    return found
