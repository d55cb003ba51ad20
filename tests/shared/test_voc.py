import pytest

from shared.datasets.voc import read_voc

GOOD = """<annotation><filename>crazing_1</filename><size><width>200</width><height>200</height></size>
<object><name>crazing</name><difficult>1</difficult><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>50</xmax><ymax>60</ymax></bndbox></object>
<object><name>patches</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>20</xmax></bndbox></object>
<object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object>
</annotation>"""


def test_reads_fields_and_reports_missing_ones(tmp_path):
    path = tmp_path / "a.xml"
    path.write_text(GOOD)
    annotation = read_voc(path)
    assert (annotation.filename, annotation.width, annotation.height) == ("crazing_1", 200, 200)
    assert [b.as_dict() for b in annotation.boxes] == [
        {"name": "crazing", "xmin": 2, "ymin": 3, "xmax": 50, "ymax": 60, "difficult": True}]
    assert annotation.problems == [("xml_missing_field", "object 2 lacks ymax"),
                                   ("xml_missing_field", "object 3 lacks name")]


def test_missing_filename_is_a_problem(tmp_path):
    path = tmp_path / "b.xml"
    path.write_text("<annotation><size><width>5</width><height>5</height></size></annotation>")
    assert read_voc(path).problems == [("xml_missing_field", "no <filename>")]


def test_unparsable_xml_raises_parse_error(tmp_path):
    from xml.etree.ElementTree import ParseError

    path = tmp_path / "c.xml"
    path.write_text("<annotation><object>")
    with pytest.raises(ParseError):
        read_voc(path)
