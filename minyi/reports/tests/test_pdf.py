"""PDF rendering in Noto Sans SC: the text that was meant is the text that comes out (pypdf extraction)."""

from __future__ import annotations

import io
import re
import warnings

import pytest

from minyi.reports import pdf
from minyi.reports.charts import bar_chart, inline
from minyi.reports.pdf import FontsMissing, FontsMissingWarning, font_face_css, font_files, render_pdf

pypdf = pytest.importorskip("pypdf")

# strings whose glyphs a subset-mixing renderer confuses (民意周报 -> 民易周模), in both weights and in SVG
WORDS = [
    "民意周报",
    "晴雨表热点话题",
    "预警：红色、橙色、黄色",
    "答复质量",
    "城乡建设·劳动和社会保障",
    "满意率 87.5%",
]


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "".join(page.extract_text() for page in reader.pages)


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture
def fonts():
    files = font_files()
    if files is None:
        pytest.skip("needs the Noto Sans SC TTFs (npm ci: node_modules/@expo-google-fonts/noto-sans-sc)")
    return files


def test_the_whole_ttf_files_of_both_weights_are_found(fonts):
    assert set(fonts) == {400, 700}
    assert fonts[400].name == "NotoSansSC_400Regular.ttf" and fonts[700].name == "NotoSansSC_700Bold.ttf"
    assert all(p.stat().st_size > 5_000_000 for p in fonts.values())  # whole fonts, not unicode-range subsets
    css = font_face_css()
    assert css.count("@font-face") == 2 and "font-weight: 700" in css and fonts[400].as_uri() in css


def test_chinese_text_comes_out_exactly(fonts):
    page = (
        "<html><body><h1>民意周报</h1>"
        + "".join(f"<p>{w}</p>" for w in WORDS[1:4])
        + f"<p><b>{WORDS[4]}</b></p>"
        + inline(bar_chart(WORDS[5], ["甲", "乙"], [1, 2]))
        + "</body></html>"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", FontsMissingWarning)
        data = render_pdf(page)
    assert data.startswith(b"%PDF-")
    text = squeeze(pdf_text(data))
    for word in WORDS:
        assert squeeze(word) in text, (word, text)


def test_the_fonts_are_embedded_as_noto_sans_sc(fonts):
    reader = pypdf.PdfReader(io.BytesIO(render_pdf("<p>民意周报</p><p><b>民意周报</b></p>")))
    names = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]))
    assert names and all("NotoSansSC" in n.replace("-", "") for n in names), names


def test_a_fragment_renders_too(fonts):
    assert squeeze("民意周报") in squeeze(pdf_text(render_pdf("民意周报")))


def test_font_dir_from_the_environment(fonts, tmp_path, monkeypatch):
    for path in fonts.values():
        (tmp_path / path.name).symlink_to(path)
    monkeypatch.setenv("MINYI_FONT_DIR", str(tmp_path))
    found = font_files()
    assert found is not None and {p.name for p in found.values()} == {p.name for p in fonts.values()}


def test_missing_fonts_warn_or_raise_as_the_caller_chooses(tmp_path, monkeypatch):
    monkeypatch.setenv("MINYI_FONT_DIR", str(tmp_path))  # an explicit, empty directory
    assert font_files() is None and not pdf.fonts_available() and font_face_css() == ""
    with pytest.warns(FontsMissingWarning, match="Noto Sans SC"):
        data = render_pdf("<p>民意周报 report</p>")
    assert data.startswith(b"%PDF-") and "report" in pdf_text(data).replace("\x00", "")
    with pytest.raises(FontsMissing):
        render_pdf("<p>民意周报</p>", require_fonts=True)


def test_only_fonts_data_and_the_base_directory_are_fetched(tmp_path, fonts):
    files = {str(p) for p in fonts.values()}
    assert pdf._allowed("data:image/png;base64,AAAA", files, None)
    assert pdf._allowed(fonts[400].as_uri(), files, None)
    assert not pdf._allowed("file:///etc/passwd", files, None)
    assert not pdf._allowed("http://example.com/x.png", files, None)
    assert not pdf._allowed("https://example.com/x.css", files, None)
    assert pdf._allowed((tmp_path / "a.png").as_uri(), files, tmp_path.resolve())
    assert not pdf._allowed((tmp_path.parent / "b.png").as_uri(), files, tmp_path.resolve())


def test_refused_resources_are_left_out_without_failing(fonts):
    page = '<p>民意周报</p><img src="file:///etc/passwd"><img src="http://127.0.0.1:9/x.png">'
    page += '<link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
    assert squeeze("民意周报") in squeeze(pdf_text(render_pdf(page)))


def test_a_page_that_carries_the_font_faces_itself_renders_the_same(fonts):
    page = f"<html><head><style>{font_face_css()}</style></head><body><h1>民意周报</h1><p>民意月报</p></body></html>"
    text = squeeze(pdf_text(render_pdf(page)))
    assert "民意周报" in text and "民意月报" in text
