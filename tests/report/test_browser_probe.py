"""The browser probe of `tests.browser.render` sees what the report tests rely on it to see."""

from __future__ import annotations

import base64
import io

from tests.browser import render


def test_render_flags_broken_images_fetches_and_console_errors(tmp_path):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 20), "red").save(buf, format="PNG")
    good = base64.b64encode(buf.getvalue()).decode("ascii")
    page = tmp_path / "page.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>12.34 mL</p>"
        f"<img alt='good' src='data:image/png;base64,{good}'>"
        "<img alt='corrupt' src='data:image/png;base64,AAAA'>"
        "<img alt='missing' src='missing.png'>"
        "<script>console.error('boom'); notDefined();</script></body></html>",
        encoding="utf-8",
    )
    seen = render(page, tmp_path)
    ok = {i["alt"]: i["ok"] for i in seen.images}
    assert ok == {"good": True, "corrupt": False, "missing": False}
    assert seen.images[0]["width"] == 40 and "12.34 mL" in seen.text
    assert any("boom" in line for line in seen.console)
    assert any("Uncaught ReferenceError" in line for line in seen.console)
