"""Plain reports (UTF-8, no entities, CDATA, comments or attributes below the root, the schema's
element order) are read without building a tree; the result is the tree walk's to the byte,
and anything outside that subset is read by lxml as before."""

from __future__ import annotations

import random

import pytest

from zegel.reports.corpus import STYLES, make_report
from zegel.reports.ingest import AggregateParser, ReportError, _read_plain, parse_xml

PLAIN = b"""<?xml version="1.0" encoding="UTF-8"?>
<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <version> 1.0 </version>
 <report_metadata><org_name>  Rx   Org </org_name><email>r@rx.example</email><report_id>r-1</report_id>
  <date_range><begin>1790000000</begin><end>1790086399</end></date_range><error> a  b </error><error></error></report_metadata>
 <policy_published><domain>Example.COM.</domain><p>Reject</p><pct>50</pct><testing>n</testing></policy_published>
 <record><row><source_ip> 2001:DB8::1 </source_ip><count> 7 </count><policy_evaluated><disposition>none</disposition>
   <dkim>PASS</dkim><spf>fail</spf><reason><type>Local_Policy</type><comment> arc=pass  as.example </comment></reason>
   <reason><type></type></reason></policy_evaluated></row>
  <identifiers><envelope_to>to.example</envelope_to><header_from> </header_from><header_from>Example.com</header_from>
   <envelope_from>B.example.com</envelope_from></identifiers>
  <auth_results><dkim><domain>Example.com</domain><selector>s1</selector><result>pass</result>
    <human_result> ok \t fine </human_result></dkim><dkim><domain>esp.example</domain><result>FAIL</result></dkim>
   <spf><domain>b.example.com</domain><scope>MFROM</scope><result>softfail</result></spf><spf></spf></auth_results></record>
 <record><row><source_ip>192.0.2.1</source_ip><count>3</count><policy_evaluated><disposition></disposition><dkim></dkim><spf>pass</spf>
  </policy_evaluated></row><identifiers></identifiers><auth_results>
  </auth_results></record>
</feedback>
"""


def tree_walk(data: bytes) -> object:
    """The same document read through lxml's tree (an element is never read the plain way)."""
    return AggregateParser().parse(parse_xml(data))


@pytest.mark.parametrize("style", STYLES)
def test_every_corpus_style_is_plain_and_reads_as_the_tree_walk(style: str) -> None:
    rng = random.Random(11)
    for index in range(20):
        _, xml = make_report(style, rng, index=index, records=rng.randrange(1, 8))
        assert _read_plain(xml) is not None
        assert AggregateParser().parse(xml) == tree_walk(xml)


def test_a_plain_report_with_every_field_reads_as_the_tree_walk() -> None:
    assert _read_plain(PLAIN) is not None
    report = AggregateParser().parse(PLAIN)
    assert report == tree_walk(PLAIN)
    first, second = report.records
    assert first[:8] == ("2001:db8::1", 7, "none", "pass", "fail", "example.com", "b.example.com", "to.example")
    assert first[8] == (("local_policy", "arc=pass as.example"), ("other", ""))
    assert first[9] == (("example.com", "s1", "pass", "ok fine"), ("esp.example", "", "fail", ""))
    assert first[10] == (("b.example.com", "mfrom", "softfail", ""), ("", "", "none", ""))
    assert second[2:5] == ("none", "fail", "pass")
    assert report.metadata.org_name == "Rx Org" and report.metadata.errors == ("a b", "")
    assert report.policy.domain == "example.com" and report.policy.pct == 50 and report.version == "1.0"


@pytest.mark.parametrize(("old", "new"), [
    (b"<org_name>", b"<org_name><![CDATA[x]]>"),  # CDATA
    (b"Rx", b"R&amp;x"),  # an entity
    (b"Rx", b"R&#x78;"),  # a character reference
    (b"Rx", b"R\r\nx"),  # CR LF inside a text: the parser makes it LF
    (b"Rx", b"R>x"),  # '>' in text
    (b"<count> 7 </count>", b"<count a='1'> 7 </count>"),  # an attribute below the root
    (b"</version>", b"</version><!-- c -->"),  # a comment
    (b"<record>", b"<?pi x?><record>"),  # a processing instruction
    (b"<feedback ", b"<feedback a='1' "),  # an attribute that is not a namespace declaration
    (b' xmlns:xsi="http', b' xmlns:xsi="urn:a" xmlns:xsi="http'),  # declared twice: not well-formed
    (b' xmlns:xsi="http', b' xmlns:xml="http'),  # a reserved prefix
    # a namespace no reporter uses (libxml2 refuses this one as not a URI; found by make fuzz)
    (b'xmlns="urn:ietf:params:xml:ns:dmarc-2.0"', b'xmlns="http://http://http://dmarc.org/dmarc-xml/0.1"'),
    (b'encoding="UTF-8"', b'encoding="ISO-8859-1"'),  # another encoding
    (b'<?xml version="1.0"', b' <?xml version="1.0"'),  # space before the declaration
    (b"<row><source_ip> 2001", b"<row><count>1</count><source_ip> 2001"),  # not the schema's order
    (b"</feedback>", b"</feedback><x/>"),  # content after the root
    (b"<error></error>", b"<error/>"),  # an empty-element tag
    (b"<report_metadata>", b" " * 5000 + b"<report_metadata>"),  # a white space run past the bound
    (b"r-1", b"r" * 5000),  # a text past the bound
    (b"</policy_published>", b"</policy_published><extension/>"),  # an element the subset does not know
])
def test_anything_outside_the_subset_is_left_to_lxml(old: bytes, new: bytes) -> None:
    assert old in PLAIN
    document = PLAIN.replace(old, new, 1)
    assert _read_plain(document) is None
    try:
        expected: object = tree_walk(document)
    except ReportError as error:
        expected = str(error)
    try:
        got: object = AggregateParser().parse(document)
    except ReportError as error:
        got = str(error)
    assert got == expected


def test_a_plain_report_with_bad_values_fails_as_the_tree_walk_does() -> None:
    for old, new in ((b" 2001:DB8::1 ", b"999.1.1.1"), (b" 7 ", b"1e3"), (b"r-1", b""), (b"1790000000", b"soon")):
        document = PLAIN.replace(old, new, 1)
        assert _read_plain(document) is not None
        with pytest.raises(ReportError) as plain:
            AggregateParser().parse(document)
        with pytest.raises(ReportError) as tree:
            tree_walk(document)
        assert str(plain.value) == str(tree.value)
