"""Small HTML builders and cross-links shared by the page modules."""

from __future__ import annotations

import data as d


def p(*sentences: str) -> str:
    return "<p>" + " ".join(s.strip() for s in sentences) + "</p>"


def h2(text: str, anchor: str = "") -> str:
    return f'<h2 id="{anchor}">{text}</h2>' if anchor else f"<h2>{text}</h2>"


def h3(text: str) -> str:
    return f"<h3>{text}</h3>"


def ul(items) -> str:
    return "<ul>\n" + "\n".join(f"  <li>{item}</li>" for item in items) + "\n</ul>"


def ol(items) -> str:
    return "<ol>\n" + "\n".join(f"  <li>{item}</li>" for item in items) + "\n</ol>"


def table(headers, rows, caption: str = "") -> str:
    cap = f"<caption>{caption}</caption>\n" if caption else ""
    head = "<tr>" + "".join(f"<th>{h}</th>" for h in headers) + "</tr>"
    body = "\n".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>\n{cap}<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def facts(rows) -> str:
    """A two-column definition table (label, value)."""
    return (
        '<table class="facts">\n<tbody>\n'
        + "\n".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        + "\n</tbody>\n</table>"
    )


def faq(pairs) -> str:
    out = []
    for question, answer in pairs:
        out.append(f'<section class="faq">\n<h3>{question}</h3>\n<p>{answer}</p>\n</section>')
    return "\n".join(out)


def a(href: str, text: str) -> str:
    return f'<a href="{href}">{text}</a>'


def course(code: str, full: bool = True) -> str:
    c = d.COURSES[code]
    text = c.full if full else c.code
    return a(c.href, text) if c.page else text


def person(key: str) -> str:
    who = d.PEOPLE[key]
    return a(who.href, who.name) if who.profile else who.name


def lab(key: str) -> str:
    return a(d.LABS[key].href, d.LABS[key].name)


def program(key: str, text: str = "") -> str:
    return a(d.PROGRAMS[key].href, text or d.PROGRAMS[key].name)


def building(key: str) -> str:
    return d.BUILDINGS[key].name


def prereq_text(c: d.Course) -> str:
    names = [course(code) for code in c.prereqs]
    return " and ".join(names)


def sidebar(title: str, links) -> str:
    return f"<h2>{title}</h2>\n" + ul(a(href, text) for href, text in links)


ADMISSIONS_SIDEBAR = sidebar(
    "Admissions",
    [
        ("/admissions/index.html", "Admissions overview"),
        ("/admissions/requirements.html", "Admission requirements"),
        ("/admissions/deadlines.html", "Application deadlines"),
        ("/admissions/tuition-and-fees.html", "Tuition and fees"),
        ("/admissions/scholarships.html", "Scholarships and financial aid"),
        ("/admissions/international-students.html", "International students"),
        ("/admissions/faq.html", "Admissions FAQ"),
    ],
)

PROGRAMS_SIDEBAR = sidebar(
    "Degree programs",
    [
        *((prog.href, prog.name) for prog in d.PROGRAMS.values()),
        ("/programs/faq.html", "Programs FAQ"),
        ("/courses/index.html", "Course catalog"),
    ],
)

RESEARCH_SIDEBAR = sidebar(
    "Research",
    [
        ("/research/index.html", "Research at Northbridge"),
        *((lab_.href, lab_.name) for lab_ in d.LABS.values() if lab_.page),
        ("/faculty/index.html", "Faculty directory"),
    ],
)

CAMPUS_SIDEBAR = sidebar(
    "Campus",
    [
        ("/campus/index.html", "Campus and buildings"),
        ("/campus/housing.html", "Housing and dining"),
        ("/library.html", "Ashworth Library"),
        ("/student-life.html", "Student life"),
        ("/contact.html", "Contact and directions"),
    ],
)
