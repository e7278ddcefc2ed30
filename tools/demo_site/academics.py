"""Programs, courses, faculty and research pages."""

from __future__ import annotations

import data as d
from helpers import (
    PROGRAMS_SIDEBAR,
    RESEARCH_SIDEBAR,
    a,
    building,
    course,
    facts,
    faq,
    h2,
    h3,
    lab,
    ol,
    p,
    person,
    prereq_text,
    program,
    sidebar,
    table,
    ul,
)

PROGRAMS_CRUMB = (("/programs/index.html", "Programs"),)
COURSES_CRUMB = (("/courses/index.html", "Courses"),)
FACULTY_CRUMB = (("/faculty/index.html", "Faculty"),)
RESEARCH_CRUMB = (("/research/index.html", "Research"),)


# ----------------------------------------------------------------------------------------------- programs


def programs_index(Page):
    rows = [
        (
            program(k, f"{prog.name}"),
            f"BSc ({prog.bsc_credits} credits), MSc (36 credits)",
            person(prog.chair),
            building(prog.building),
            str(prog.department_founded),
        )
        for k, prog in d.PROGRAMS.items()
    ]
    body = "\n".join(
        [
            "<h1>Degree programs</h1>",
            p(
                f"{d.SCHOOL} offers undergraduate and graduate degrees in five engineering disciplines.",
                "Every department awards a Bachelor of Science (BSc) and a Master of Science (MSc).",
                f"About {d.STUDENTS_UG} undergraduates and {d.STUDENTS_GRAD} graduate students are enrolled across the five departments.",
            ),
            table(["Department", "Degrees", "Chair", "Building", "Founded"], rows, "Departments and degrees"),
            h2("How the degrees are organised"),
            p(
                "The Bachelor of Science is a four-year undergraduate degree of eight semesters.",
                "The first year is common to all departments: every student takes",
                course("MATH 120") + ",",
                course("CS 110") + ",",
                "physics and chemistry before settling into a major.",
                "Students choose their major by the end of the first year, and changing major within the first two years is straightforward.",
            ),
            p(
                "The Master of Science is a two-year graduate degree that requires 36 credits.",
                "MSc students take 24 credits of advanced courses and complete a 12-credit thesis or, in software engineering, a 12-credit industry project.",
                f"Graduate tuition is a per-credit charge of {d.GRAD_PER_CREDIT}, so the full MSc costs {d.GRAD_MSC_TOTAL} in tuition.",
                "Many MSc students on the thesis track hold a Graduate Research Assistantship that waives tuition.",
            ),
            h2("Combined BSc and MSc pathway"),
            p(
                "The combined BSc and MSc pathway allows strong undergraduates to finish both degrees in five years.",
                "Students apply in their third year with a GPA of 3.4 or higher, and up to 9 credits of graduate courses taken in the fourth year count toward both degrees.",
                "The pathway is available in all five departments.",
            ),
            h2("Graduate research"),
            p(
                "MSc students on the thesis track join a research laboratory in their first semester and work with a supervisor on a question that can be answered in about a year.",
                "Thesis students present their work at the Graduate Research Symposium in November of their second year.",
                "Each of the seven research laboratories takes between five and twelve MSc students a year.",
            ),
            h2("Minors"),
            p(
                "Undergraduates may add a minor of 18 credits outside their major.",
                "Popular minors include Robotics, Data Science, Sustainable Infrastructure, Entrepreneurship and Technical Communication.",
                "The Data Science minor requires",
                course("CS 110") + ",",
                course("CS 210"),
                "and",
                course("CS 320", full=True) + ".",
            ),
            h2("Accreditation"),
            p(
                "All five BSc programs are accredited by the Engineering Accreditation Council of Westmarch.",
                "The council last reviewed the institute in 2023 and renewed accreditation for the maximum term of six years.",
            ),
            h2("Find out more"),
            ul(
                [program(k, f"{prog.bsc} and {prog.msc}") for k, prog in d.PROGRAMS.items()]
                + [
                    a("/programs/faq.html", "Frequently asked questions about programs"),
                    a("/courses/index.html", "The full course catalog"),
                    a("/admissions/requirements.html", "Admission requirements"),
                ]
            ),
        ]
    )
    return Page(
        "programs/index.html",
        "Degree programs",
        "BSc and MSc degrees in five engineering disciplines.",
        (),
        body,
        PROGRAMS_SIDEBAR,
    )


PROGRAM_EXTRA = {
    # key: (what graduates can do, recent student projects, facilities)
    "mechanical-engineering": (
        [
            "Design machines and mechanical systems that meet a specification, a budget and safety rules.",
            "Model and test the thermal, fluid and structural behaviour of components.",
            "Choose materials and manufacturing processes for a product.",
            "Program and control robotic and mechatronic systems.",
        ],
        [
            "A wave-powered navigation buoy for Port Alder harbour, built with Alder Marine Systems.",
            "A low-cost prosthetic knee tested with the Department of Biomedical Engineering.",
            "The electric race car of Northbridge Racing, which finished third at the 2025 Formula Student Westmarch event.",
        ],
        "Mechanical engineering students use the Hale Hall workshop, which has computer-controlled mills and lathes, a foundry and a composites room, "
        "as well as the wind tunnel and the engine test cells in the basement of Hale Hall.",
    ),
    "electrical-engineering": (
        [
            "Analyse and design analog and digital circuits.",
            "Process signals and design communication and control systems.",
            "Design power converters and energy systems for renewable grids.",
            "Program microcontrollers and build embedded products.",
        ],
        [
            "A solar-powered charging station for electric bicycles on the campus, now used every day.",
            "A hearing-aid prototype with noise reduction, built with the Signal Processing and Embedded Systems Lab.",
            "A battery management system for the Northbridge Racing car.",
        ],
        "Electrical engineering students use the Voss Hall teaching laboratories, which have 48 fully equipped benches, "
        "a printed-circuit-board workshop, the microgrid testbed of the Power Systems Lab and the anechoic chamber of the Signal Processing and Embedded Systems Lab.",
    ),
    "civil-engineering": (
        [
            "Design safe and economical structures in steel, concrete and timber.",
            "Investigate sites and design foundations.",
            "Plan water supply, drainage and transportation systems.",
            "Manage construction projects and assess their environmental impact.",
        ],
        [
            "A timber footbridge over the Alder Creek, designed and built by fourth-year students in 2024.",
            "A flood-risk map of the Harbour neighbourhood prepared for the city of Port Alder.",
            "A concrete canoe that reached the regional final of the 2025 concrete canoe race.",
        ],
        "Civil engineering students use the strong floor of the Structures and Materials Lab, a hydraulics flume, a soils laboratory "
        "and a surveying store with drones and total stations, all in the Marlowe Building.",
    ),
    "software-engineering": (
        [
            "Design, build and test large software systems in teams.",
            "Build reliable distributed services that survive failures.",
            "Train, evaluate and deploy machine learning models responsibly.",
            "Design software that people find easy and safe to use.",
        ],
        [
            "A bus-arrival prediction app for the Port Alder Transit Authority, used by 30,000 riders a month.",
            "A fault-tolerant booking system for the Ashworth Library study rooms.",
            "A small language model adapted to the maintenance manuals of a partner company and evaluated on held-out questions.",
        ],
        "Software engineering students work in the studio rooms of the Calder Computing Center, which are open 24 hours a day, "
        "and they use the Tern cluster of the Distributed Systems Lab and the GPU server of the Applied Machine Learning Group for projects.",
    ),
    "biomedical-engineering": (
        [
            "Apply engineering to problems in medicine and biology.",
            "Design medical devices that meet clinical and regulatory requirements.",
            "Acquire and analyse medical images and physiological signals.",
            "Work with clinicians and patients in a hospital setting.",
        ],
        [
            "A low-cost infant incubator monitor, tested at Port Alder General Hospital.",
            "A wearable knee sensor that measures joint loads during rehabilitation.",
            "A tissue-mimicking phantom for ultrasound training, now used by the hospital's radiology residents.",
        ],
        "Biomedical engineering students use the Linden Biomedical Pavilion, which has a gait laboratory with force plates, a cell culture suite, "
        "a device prototyping workshop and the research MRI scanner of the Medical Imaging Lab.",
    ),
}


def program_page(Page, prog: d.Program):
    chair = d.PEOPLE[prog.chair]
    dept = f"The Department of {prog.name}"
    faculty = [who for who in d.PEOPLE.values() if who.department == prog.name]
    courses = [d.COURSES[code] for code in prog.courses]
    curriculum = [(year, text) for year, text in prog.years]
    labs = [d.LABS[k] for k in prog.labs]
    body = "\n".join(
        [
            f"<h1>{prog.name}</h1>",
            p(f"<strong>Degrees:</strong> {prog.bsc} ({prog.bsc_credits} credits) and {prog.msc} (36 credits)."),
            p(prog.overview),
            facts(
                [
                    ("Department", f"Department of {prog.name}"),
                    ("Founded", str(prog.department_founded)),
                    ("Building", building(prog.building)),
                    ("Chair", person(prog.chair)),
                    ("BSc credits", str(prog.bsc_credits)),
                    ("MSc credits", "36"),
                    ("Employment or further study within six months", f"{prog.employment_rate} percent"),
                ]
            ),
            h2("The department"),
            p(
                f"{dept} is located in {building(prog.building)} on the {d.SHORT} campus in {d.CITY}.",
                f"{dept} was founded in {prog.department_founded} and is led by {person(prog.chair)}, the department chair.",
                f"{dept} offers a {prog.bsc}, an {prog.msc}, a minor and the combined BSc and MSc pathway.",
            ),
            p(prog.highlight),
            h2(f"{prog.bsc}", "bsc"),
            p(
                f"The {prog.bsc} is a four-year undergraduate degree that requires {prog.bsc_credits} credits.",
                f"The {prog.bsc} includes {prog.bsc_includes}.",
                "Students complete the common first year, then follow the department's core sequence and choose a concentration in the third year.",
            ),
            table(["Year", "Typical courses"], curriculum, f"{prog.bsc}: typical course sequence"),
            h3("Core courses with a catalog page"),
            ul(
                [
                    f"{course(c.code)}: {c.credits} credits, taught by {person(c.instructor)} {term_phrase(c)}."
                    for c in courses
                    if c.page
                ]
                or ["See the course catalog."]
            ),
            h3("Concentrations"),
            p(
                f"The {prog.bsc} offers three concentrations: {', '.join(prog.concentrations[:-1])} and {prog.concentrations[-1]}.",
                "A concentration consists of four elective courses taken in the third and fourth years.",
            ),
            h2(f"{prog.msc}", "msc"),
            p(
                f"The {prog.msc} is a two-year graduate degree that requires 36 credits.",
                f"The {prog.msc} requires {prog.msc_thesis}.",
                f"Graduate tuition is {d.GRAD_PER_CREDIT} per credit, or {d.GRAD_MSC_TOTAL} for the full degree.",
                f"Applicants need a bachelor's degree in engineering or a related field; the priority deadline for the {prog.msc} is {d.GRAD_PRIORITY}.",
            ),
            h2("What graduates can do"),
            p(f"Graduates of the {prog.bsc} are able to:"),
            ul(PROGRAM_EXTRA[prog.key][0]),
            h2("Student projects"),
            p(f"Recent projects by students of the {prog.bsc} include:"),
            ul(PROGRAM_EXTRA[prog.key][1]),
            h2("Facilities"),
            p(PROGRAM_EXTRA[prog.key][2]),
            h2("Research and laboratories"),
            ul(
                [
                    f"{lab(laboratory.key)}: {laboratory.focus}. The {laboratory.name} is located in {laboratory.location}."
                    for laboratory in labs
                ]
            ),
            h2("Faculty"),
            p(
                f"{dept} has {len(faculty)} faculty members listed in the directory, and many more lecturers and visiting professors."
            ),
            ul([f"{person(w.key)}, {w.title}. Research: {w.research}." for w in faculty]),
            h2("Careers"),
            p(
                f"Graduates of the {prog.bsc} work in {prog.careers}.",
                f"Employers of recent {prog.name} graduates include {prog.employers}.",
                f"In the 2024 graduate survey, {prog.employment_rate} percent of BSc graduates were employed or in further study within six months, "
                f"with a median starting salary of {prog.median_salary}.",
            ),
            h2("Apply"),
            p(
                f"Undergraduate applicants apply to {d.SCHOOL} as a whole and declare {prog.name} as their intended major.",
                f"The regular decision deadline for first-year applicants is {d.REGULAR_DECISION}.",
                "See "
                + a("/admissions/requirements.html", "admission requirements")
                + ", "
                + a("/admissions/deadlines.html", "deadlines")
                + " and "
                + a("/admissions/tuition-and-fees.html", "tuition and fees")
                + ".",
                f'Questions about the program can be sent to {chair.name} at <a href="mailto:{chair.email}">{chair.email}</a>.',
            ),
        ]
    )
    return Page(
        f"programs/{prog.key}.html",
        prog.name,
        f"{prog.bsc} and {prog.msc} at {d.SCHOOL}.",
        PROGRAMS_CRUMB,
        body,
        PROGRAMS_SIDEBAR,
    )


def programs_faq(Page):
    pairs = [
        (
            "How many degree programs does Northbridge offer?",
            f"{d.SCHOOL} offers ten degree programs: a BSc and an MSc in each of Mechanical, Electrical, Civil, Software and Biomedical Engineering.",
        ),
        (
            "How long does the BSc take?",
            "The BSc is a four-year degree of eight semesters. The number of credits depends on the major: "
            + ", ".join(f"the {prog.bsc} requires {prog.bsc_credits} credits" for prog in d.PROGRAMS.values())
            + ".",
        ),
        (
            "How long does the MSc take?",
            "The MSc is a two-year degree that requires 36 credits in every department. Part-time students may take up to five years.",
        ),
        (
            "When do I choose my major?",
            "Students choose a major at the end of the common first year. The common first year includes MATH 120 Calculus for Engineers and CS 110 Introduction to Programming.",
        ),
        (
            "Can I change my major?",
            "Changing major is a simple form signed by both department chairs during the first two years. After the second year a change may add one or two semesters.",
        ),
        (
            "What is a credit?",
            "A credit is a unit of study equal to one hour of lecture or three hours of laboratory per week over a 15-week semester. A full-time undergraduate takes 15 to 17 credits per semester.",
        ),
        (
            "Which programming language is taught first?",
            "CS 110 Introduction to Programming uses Python. Later courses use C, Java, Rust and MATLAB depending on the department.",
        ),
        (
            "What is the combined BSc and MSc pathway?",
            "The combined BSc and MSc pathway is a five-year route to both degrees for undergraduates with a GPA of 3.4 or higher. Up to 9 graduate credits count toward both degrees.",
        ),
        (
            "Do MSc students have to write a thesis?",
            "MSc students in most departments write a 12-credit thesis. The MSc in Software Engineering also offers a 12-credit industry project instead of the thesis.",
        ),
        (
            "Are the programs accredited?",
            "All five BSc programs are accredited by the Engineering Accreditation Council of Westmarch, most recently in 2023.",
        ),
        (
            "Which program is the newest?",
            "Biomedical Engineering is the newest department. The Department of Biomedical Engineering was founded in 2002 and moved into the Linden Biomedical Pavilion in 2018.",
        ),
        (
            "Which program is the oldest?",
            "Mechanical Engineering is the oldest program. The Department of Mechanical Engineering dates from the founding of the school in 1891.",
        ),
        (
            "Can undergraduates do research?",
            "Undergraduates can join a research lab from their second year through the Summer Research Program, which pays a stipend of $5,500 for ten weeks.",
        ),
        (
            "Is there an internship requirement?",
            "An internship is not required, but about 80 percent of students complete at least one. Career Services in Quarry Commons lists more than 400 internships each year.",
        ),
        (
            "Can I study abroad?",
            "Northbridge has exchange agreements with eleven partner universities. Most students study abroad in the spring semester of their third year.",
        ),
        (
            "What is the senior design project?",
            "The senior design project is a one-year team project in the fourth year in which students design, build and test a solution for a real client. Each BSc program includes a senior design project or an equivalent capstone.",
        ),
        (
            "How big are the classes?",
            "First-year lectures have up to 120 students, with problem sessions of 25. Most third-year and fourth-year courses have 20 to 40 students.",
        ),
        (
            "Can I take courses in another department?",
            "Students may take any course whose prerequisites they have passed. A minor of 18 credits can be earned in any department other than the major.",
        ),
        (
            "What is the co-op program?",
            "The Northbridge Co-op Program is an optional program in which students alternate semesters of study with paid semesters of work. Co-op students graduate one semester later with about a year of experience.",
        ),
        (
            "Are there part-time or online programs?",
            "The MSc programs can be taken part-time over up to five years. Fully online degrees are not offered, but some graduate courses are streamed for part-time students.",
        ),
        (
            "Who advises students?",
            "Every undergraduate has a faculty advisor in their department from the second year. First-year students are advised by the First-Year Office in Brennan Hall.",
        ),
        (
            "Who do I contact about a program?",
            "Each department chair answers questions about their program: "
            + "; ".join(f"{d.PEOPLE[prog.chair].name} for {prog.name}" for prog in d.PROGRAMS.values())
            + ".",
        ),
    ]
    body = "\n".join(
        [
            "<h1>Programs: frequently asked questions</h1>",
            p(
                "This page answers the questions that prospective students ask most often about our degree programs.",
                "For questions about applying, see the " + a("/admissions/faq.html", "admissions FAQ") + ".",
            ),
            faq(pairs),
        ]
    )
    return Page(
        "programs/faq.html",
        "Programs FAQ",
        "Frequently asked questions about Northbridge degree programs.",
        PROGRAMS_CRUMB,
        body,
        PROGRAMS_SIDEBAR,
    )


# ----------------------------------------------------------------------------------------------- courses


def courses_index(Page):
    rows = [
        (
            course(c.code, full=False),
            c.title,
            str(c.credits),
            ", ".join(c.prereqs) or "None",
            person(c.instructor),
            c.term.capitalize(),
        )
        for c in d.COURSES.values()
    ]
    body = "\n".join(
        [
            "<h1>Course catalog</h1>",
            p(
                f"The {d.ACADEMIC_YEAR} course catalog lists the core courses of the five engineering programs and the common first year.",
                "Each course with a link has its own page with the syllabus, schedule, prerequisites and assessment.",
            ),
            table(
                ["Code", "Title", "Credits", "Prerequisites", "Instructor", "Term"],
                rows,
                f"Core courses, {d.ACADEMIC_YEAR}",
            ),
            h2("Course codes"),
            p(
                "A course code is a department prefix followed by a three-digit number.",
                "The prefix MATH stands for mathematics, CS for computing and software engineering, ME for mechanical engineering, "
                "EE for electrical engineering, CE for civil engineering and BME for biomedical engineering.",
                "Courses numbered 100 to 199 are first-year courses, 200 to 299 second-year courses, 300 to 399 third-year courses and 400 to 499 fourth-year courses.",
                "Graduate courses are numbered 500 and above.",
            ),
            h2("Credits and workload"),
            p(
                "A credit is a unit of study equal to one hour of lecture or three hours of laboratory each week over a 15-week semester.",
                "A 4-credit course therefore meets for about four hours a week and expects about eight hours of independent study.",
                "Full-time undergraduates take 15 to 17 credits per semester; a load above 19 credits requires the approval of the student's advisor.",
            ),
            h2("Terms"),
            p(
                "The academic year has two 15-week semesters and an optional summer session.",
                "The fall semester runs from early September to mid-December and the spring semester from mid-January to early May.",
                "Final examinations are held in the last week of each semester.",
            ),
            h2("Grading"),
            table(
                ["Letter grade", "Grade points", "Meaning"],
                [
                    ("A", "4.0", "Excellent"),
                    ("B", "3.0", "Good"),
                    ("C", "2.0", "Satisfactory"),
                    ("D", "1.0", "Passing"),
                    ("F", "0.0", "Failing"),
                ],
                "Grading scale",
            ),
            p(
                "A prerequisite is a course that must be passed with a grade of C or better before a later course can be taken.",
                "Instructors may waive a prerequisite for students with equivalent preparation.",
            ),
            h2("Academic calendar", "calendar"),
            table(
                ["Event", "Date"],
                [
                    ("Fall semester classes begin", "September 2, 2025"),
                    ("Last day to add a fall course", "September 12, 2025"),
                    ("Fall break", "October 13 to 14, 2025"),
                    ("Last day of fall classes", "December 5, 2025"),
                    ("Fall final examinations", "December 8 to 12, 2025"),
                    ("Spring semester classes begin", "January 12, 2026"),
                    ("Spring break", "March 9 to 13, 2026"),
                    ("Last day of spring classes", "April 24, 2026"),
                    ("Spring final examinations", "April 27 to May 1, 2026"),
                    ("Commencement", "May 9, 2026"),
                ],
                f"Academic calendar, {d.ACADEMIC_YEAR}",
            ),
            p(
                "The fall semester of 2025 begins on September 2, 2025, and the spring semester of 2026 begins on January 12, 2026.",
                "Commencement is the graduation ceremony held on the Quadrangle, and in 2026 it takes place on May 9.",
            ),
            h2("Registration"),
            p(
                "Registration for the fall semester opens on April 1 and registration for the spring semester opens on November 1.",
                "Students register through the student portal after meeting their academic advisor.",
                "The Registrar is located in Brennan Hall, room 120.",
            ),
        ]
    )
    side = sidebar("Courses", [(c.href, c.full) for c in d.COURSES.values() if c.page])
    return Page(
        "courses/index.html", "Course catalog", f"The {d.ACADEMIC_YEAR} catalog of core courses.", (), body, side
    )


COURSE_EXTRA = {
    # code: (textbook, teaching assistants, advice from past students)
    "MATH 120": (
        "Engineering Calculus, 3rd edition, by Varga and Lund, published by the Northbridge Press",
        6,
        "Go to the Thursday problem sessions from the first week; the midterms use the same kind of problems.",
    ),
    "MATH 220": (
        "Linear Algebra and Probability for Engineers, by Elias Varga, available free as a PDF through Ashworth Library",
        4,
        "Keep a summary sheet of the matrix factorisations; they come back in every later course.",
    ),
    "CS 110": (
        "Programming in Python for Engineers, an open online textbook written by Dr. Sofia Lindqvist",
        8,
        "Start the weekly exercises early and ask questions in the Monday evening help session.",
    ),
    "CS 210": (
        "Data Structures and Their Analysis, 2nd edition, by Okafor and Brandt",
        5,
        "Write tests for every data structure before you optimise it.",
    ),
    "CS 320": (
        "Machine Learning Systems in Practice, by Samuel Adeyemi, with notebooks on the course website",
        3,
        "Split your data before you look at it; the course project is graded on honest held-out evaluation.",
    ),
    "CS 340": (
        "Reliable Distributed Systems, by Amara Okafor, distributed as course notes",
        4,
        "The four stages of the key-value store build on each other, so a shortcut in stage one costs time in stage four.",
    ),
    "ME 201": (
        "Mechanics for Engineers, 9th edition, by Hibbert and Lowe",
        5,
        "Draw a free-body diagram for every problem, even the easy ones.",
    ),
    "ME 350": (
        "Introduction to Robot Control, by Helena Marsh, with lab notes written by the Robotics Lab",
        4,
        "Book time on the balancing robots early in the week; the lab is busiest on Thursdays.",
    ),
    "EE 220": (
        "Circuit Analysis for Engineers, 7th edition, by Alden and Sato",
        6,
        "Keep your laboratory notebook tidy from the first session; it is graded twice.",
    ),
    "EE 310": (
        "Signals and Systems for Engineers, by Priya Raman, with Python notebooks",
        3,
        "Plot every signal you compute; most mistakes are visible in the plot.",
    ),
    "EE 410": (
        "Switching Power Converters, 4th edition, by Dominguez and Kaur",
        2,
        "Respect the safety rules of the Power Systems Lab; the testbed runs at real voltages.",
    ),
    "CE 230": (
        "Analysis of Structures, 5th edition, by Solberg and Haugen",
        4,
        "Check every hand calculation with the stiffness-method program before you submit.",
    ),
    "CE 360": (
        "Soil Mechanics and Foundations, 6th edition, by Whitcombe and Ngata",
        3,
        "Bring boots and a waterproof jacket to the shoreline field days.",
    ),
    "BME 250": (
        "Mechanics of the Human Body, 3rd edition, by Mensah and Ortiz",
        3,
        "Wear comfortable shoes for the gait laboratory; you will walk a lot.",
    ),
    "BME 380": (
        "Principles of Medical Imaging, course notes by Naomi Whitfield",
        3,
        "Revise the Fourier transform from EE 310 before the MRI weeks.",
    ),
}

COURSE_TOOLS = {
    "MATH 120": "graphing calculators in examinations and Python notebooks for the weekly computer exercises",
    "MATH 220": "Python with NumPy for the computational problems and a shared online forum for questions",
    "CS 110": "Python 3, the Thonny editor in the first weeks and Git for the team project",
    "CS 210": "Python and Java, an automatic grader that runs hidden tests and a profiler to measure running time",
    "CS 320": "Python, PyTorch and the GPU server of the Applied Machine Learning Group",
    "CS 340": "Go, the Tern cluster of the Distributed Systems Lab and a fault-injection tool written by the lab",
    "ME 201": "hand calculations, a physics simulation program and the restored 1904 steam-engine governor",
    "ME 350": "MATLAB, the Robot Operating System and the balancing robots of the Robotics Lab",
    "EE 220": "oscilloscopes, function generators and a circuit simulator in the Voss Hall teaching laboratories",
    "EE 310": "Python notebooks and recordings made in the anechoic chamber",
    "EE 410": "a converter simulation program and the microgrid testbed of the Power Systems Lab",
    "CE 230": "a matrix stiffness-method program and the strong floor of the Structures and Materials Lab",
    "CE 360": "the soils laboratory of the Marlowe Building and field equipment for the shoreline days",
    "BME 250": "force plates, wearable motion sensors and a musculoskeletal modelling program",
    "BME 380": "Python reconstruction notebooks and the 0.5-tesla research MRI scanner",
}

OWNER = {
    "core": None,
    "software": "software-engineering",
    "mechanical": "mechanical-engineering",
    "electrical": "electrical-engineering",
    "civil": "civil-engineering",
    "biomedical": "biomedical-engineering",
}


def term_phrase(c: d.Course) -> str:
    return "in both the fall and spring terms" if " and " in c.term else f"in the {c.term} term"


def listing(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def course_page(Page, c: d.Course):
    who = d.PEOPLE[c.instructor]
    prog = d.PROGRAMS[OWNER[c.program]] if OWNER[c.program] else None
    required_in = [pr for pr in d.PROGRAMS.values() if c.code in pr.courses]
    later = [other for other in d.COURSES.values() if c.code in other.prereqs]
    textbook, tas, tip = COURSE_EXTRA[c.code]
    prereq_sentence = (
        f"{c.code} requires {prereq_text(c)} as a prerequisite."
        if c.prereqs
        else f"{c.full} has no prerequisites and is open to first-year students."
    )
    body = "\n".join(
        [
            f"<h1>{c.full}</h1>",
            facts(
                [
                    ("Course code", c.code),
                    ("Title", c.title),
                    ("Credits", str(c.credits)),
                    ("Prerequisites", prereq_text(c) or "None"),
                    ("Instructor", person(c.instructor)),
                    ("Term", c.term.capitalize()),
                    ("Schedule", c.schedule),
                    ("Location", f"{building(c.building)}, room {c.room}"),
                ]
            ),
            h2("About the course"),
            p(
                f"{c.full} is a {c.credits}-credit course taught by {person(c.instructor)} {term_phrase(c)}.",
                f"{c.code} covers {c.covers}.",
                prereq_sentence,
            ),
            p(c.description),
            p(
                f"The {c.code} lecture room is located in {building(c.building)}, room {c.room}.",
                f"Classes meet on {c.schedule}.",
            ),
            h2("Weekly topics"),
            ol(c.weeks),
            h2("Learning outcomes"),
            p(f"Students who pass {c.code} are able to:"),
            ul(c.outcomes),
            h2("Assessment"),
            table(["Component", "Weight"], [(name, f"{w} percent") for name, w in c.assessment]),
            p(
                f"The {c.code} final grade is a weighted average of "
                + listing(f"{name.lower()} ({w} percent)" for name, w in c.assessment)
                + ".",
                f"A grade of C or better in {c.code} is needed for it to count as a prerequisite.",
            ),
            h2("Materials"),
            p(
                f"The {c.code} textbook is {textbook}.",
                "Copies are on two-hour reserve at the Ashworth Library help desk.",
                f"{c.code} has {tas} graduate teaching assistants who run problem sessions and mark assignments.",
            ),
            h2("Tools"),
            p(f"{c.code} uses {COURSE_TOOLS[c.code]}."),
            h2("Course policies"),
            p(
                f"Late work in {c.code} loses ten percent of its mark for each day it is late, up to three days.",
                "Students may discuss assignments with classmates but must write up their own solutions.",
                "Students with an accommodation letter from the Disability Resource Center should send it to the instructor in the first two weeks.",
            ),
            p(f"<strong>Advice from past students:</strong> {tip}"),
            h2("Instructor"),
            p(
                f"The {c.code} instructor is {person(c.instructor)}, {who.title}.",
                f'{who.name}\'s office is in {who.office}, and e-mail questions can be sent to <a href="mailto:{who.email}">{who.email}</a>.'
                + (f" Office hours are held on {who.office_hours}." if who.office_hours else ""),
            ),
            h2("Where this course fits"),
            ul(
                [f"{c.code} is a required course in the {program(pr.key, pr.bsc)}." for pr in required_in]
                + [f"{c.code} is a prerequisite for {course(o.code)}." for o in later]
                + (
                    [f"{c.code} is offered by the Department of {prog.name}."]
                    if prog
                    else [f"{c.code} is offered by the Department of Mathematics and is part of the common first year."]
                )
            ),
        ]
    )
    crumbs = COURSES_CRUMB
    side = sidebar(
        "Related",
        [("/courses/index.html", "Course catalog")]
        + ([(prog.href, prog.name)] if prog else [("/programs/index.html", "Degree programs")])
        + ([(who.href, who.name)] if who.profile else [("/faculty/index.html", "Faculty directory")]),
    )
    return Page(f"courses/{c.slug}.html", c.full, f"{c.full}: {c.credits} credits, {c.term}.", crumbs, body, side)


# ----------------------------------------------------------------------------------------------- faculty


def faculty_index(Page):
    rows = [
        (person(w.key), w.title, w.office, f'<a href="mailto:{w.email}">{w.email}</a>', f"ext. {w.phone_ext}")
        for w in d.PEOPLE.values()
    ]
    chairs = [(prog.name, person(prog.chair)) for prog in d.PROGRAMS.values()]
    body = "\n".join(
        [
            "<h1>Faculty directory</h1>",
            p(
                f"{d.SCHOOL} has {d.FACULTY_COUNT} faculty members and a student-to-faculty ratio of {d.RATIO}.",
                "The directory below lists the department chairs and the faculty who teach the core courses of the catalog.",
                "Names with a link have a full profile page.",
            ),
            table(["Name", "Title", "Office", "E-mail", "Phone"], rows, "Faculty directory"),
            h2("Department chairs"),
            table(["Department", "Chair"], chairs),
            h2("Contacting faculty"),
            p(
                f"Every office telephone number is the main switchboard, {d.PHONE}, followed by the extension shown.",
                "Faculty hold weekly office hours during the semester; students do not need an appointment.",
                "Prospective graduate students should read a professor's profile before writing to ask about research positions.",
            ),
            h2("Research areas"),
            ul([f"{person(w.key)}: {w.research}." for w in d.PEOPLE.values()]),
            h2("Lecturers and teaching staff"),
            p(
                "Dr. Sofia Lindqvist is a senior lecturer in software engineering who teaches CS 110 Introduction to Programming to about 500 students every fall.",
                "Dr. Elias Varga is a senior lecturer in mathematics who coordinates the common first-year mathematics courses MATH 120 and MATH 220.",
                "Dr. Lena Hartmann is an associate professor of mechanical engineering who teaches ME 201 Statics and Dynamics and runs the Hale Hall wind tunnel.",
                "Dr. Priya Raman is an associate professor of electrical engineering who directs the Signal Processing and Embedded Systems Lab.",
                "Professor Jonah Whitcombe is a professor of civil engineering who teaches CE 360 Geotechnical Engineering and leads the summer surveying camp.",
                "Dr. Kwame Mensah is an associate professor of biomedical engineering who teaches BME 250 Biomechanics and runs the gait laboratory.",
            ),
            h2("Joining the faculty"),
            p(
                "Northbridge advertises faculty positions each autumn on its careers page and in professional journals.",
                "The institute offers new faculty a reduced teaching load in their first year, a start-up research grant and mentoring by a senior colleague.",
            ),
        ]
    )
    side = sidebar("Faculty profiles", [(w.href, w.name) for w in d.PEOPLE.values() if w.profile])
    return Page(
        "faculty/index.html", "Faculty directory", "Faculty of the Northbridge Institute of Technology.", (), body, side
    )


PROFILE_EXTRA = {
    "amara-okafor": (
        "Professor Okafor leads the Distributed Systems Lab, where her group studies how replicated storage systems behave under partial network failures. "
        "Her group maintains Tern, the lab's 96-node research cluster, and releases its fault-injection tools as open-source software.",
        [
            "Consensus under partial network partitions",
            "Testing distributed systems with fault injection",
            "Energy-efficient replicated storage",
        ],
        "the Northbridge Teaching Award in 2017 and the Westmarch Computing Society Early Career Prize in 2013",
    ),
    "helena-marsh": (
        "Professor Marsh has directed the Robotics Lab since 2010, two years after she joined Northbridge. "
        "Her group designed Heron-4, a quadruped robot that walks on sand, gravel and snow, and works with Harbourline Robotics on robots for harbour inspection.",
        ["Legged locomotion on soft ground", "Soft pneumatic actuators", "Robots for harbour and hull inspection"],
        "the Hale Medal for Engineering Research in 2022",
    ),
    "rafael-dominguez": (
        "Professor Dominguez founded the Power Systems Lab in 2009 to study how cities can run on renewable energy. "
        "His group operates a 250-kilowatt microgrid testbed that links solar panels on the roof of Voss Hall with a battery bank and a real-time grid simulator.",
        ["Microgrid control", "Battery storage for renewable grids", "Wide-bandgap power converters"],
        "a $3.2 million grant from the Westmarch Energy Agency in 2025",
    ),
    "ingrid-solberg": (
        "Professor Solberg directs the Structures and Materials Lab and studies tall timber buildings and the health monitoring of bridges. "
        "Her group instrumented the Old Harbour Bridge in Port Alder with 140 sensors in 2019 and still monitors it today.",
        ["Tall timber buildings", "Seismic design of mass-timber structures", "Bridge health monitoring"],
        "the Westmarch Society of Structural Engineers Gold Medal in 2020",
    ),
    "naomi-whitfield": (
        "Professor Whitfield directs the Medical Imaging Lab, which she founded when the Linden Biomedical Pavilion opened in 2018. "
        "Her group builds low-cost, low-field MRI methods for small hospitals and develops reconstruction algorithms that need fewer measurements.",
        ["Low-field magnetic resonance imaging", "Fast image reconstruction", "Affordable imaging for small hospitals"],
        "the Port Alder General Hospital Innovation Award in 2021",
    ),
    "samuel-adeyemi": (
        "Dr. Adeyemi leads the Applied Machine Learning Group, which studies how to train useful models with little data and little computing power. "
        "His current project adapts small language models to the technical documents of engineering firms and measures honestly whether the adapted models improve.",
        [
            "Domain adaptation of small language models",
            "Efficient fine-tuning methods",
            "Evaluation of models on held-out data",
        ],
        "a Northbridge Early Career Research Grant in 2023",
    ),
}


PUBLICATIONS = {
    "amara-okafor": [
        "Okafor, A., Lindgren, P. Consensus that survives partial partitions. Journal of Reliable Computing, 2023.",
        "Okafor, A., et al. Fault injection for replicated storage at scale. Westmarch Systems Conference, 2021.",
        "Okafor, A. Teaching distributed systems with a four-stage project. Computing Education Review, 2018.",
    ],
    "helena-marsh": [
        "Marsh, H., Ferreira, T. Heron-4: a quadruped for soft and uneven ground. Journal of Field Robotics Research, 2025.",
        "Marsh, H., et al. Soft pneumatic grippers for fragile produce. Soft Machines Letters, 2022.",
        "Marsh, H. Robots for hull inspection in working harbours. Marine Technology Review, 2019.",
    ],
    "rafael-dominguez": [
        "Dominguez, R., Kaur, S. Control of campus-scale microgrids with shared storage. Energy Systems Journal, 2024.",
        "Dominguez, R., et al. Wide-bandgap converters for battery storage. Power Electronics Letters, 2021.",
        "Dominguez, R. A real-time testbed for renewable microgrids. Westmarch Energy Conference, 2015.",
    ],
    "ingrid-solberg": [
        "Solberg, I., Haugen, K. Seismic response of tall mass-timber buildings. Structural Engineering Review, 2024.",
        "Solberg, I., et al. Five years of monitoring the Old Harbour Bridge. Bridge Monitoring Journal, 2024.",
        "Solberg, I. Connections in cross-laminated timber. Timber Structures Letters, 2017.",
    ],
    "naomi-whitfield": [
        "Whitfield, N., et al. Diagnostic imaging at 0.5 tesla with learned reconstruction. Medical Imaging Journal, 2024.",
        "Whitfield, N., Mensah, K. Phantoms that mimic soft tissue for low-field MRI. Imaging Physics Letters, 2022.",
        "Whitfield, N. Affordable MRI for small hospitals. Health Technology Review, 2020.",
    ],
    "samuel-adeyemi": [
        "Adeyemi, S., et al. Small language models for engineering documents. Workshop on Efficient NLP, 2025.",
        "Adeyemi, S., Okafor, A. Honest evaluation of domain-adapted models. Westmarch Machine Learning Conference, 2024.",
        "Adeyemi, S. Fine-tuning under a small compute budget. Journal of Practical Machine Learning, 2022.",
    ],
}

TEACHING = {
    "amara-okafor": "Professor Okafor teaches through projects: in each of her courses, students build one large system step by step and test it against failures.",
    "helena-marsh": "Professor Marsh believes that every control theory lecture should end with something moving, and most of her lectures end with a robot demonstration.",
    "rafael-dominguez": "Professor Dominguez pairs every lecture with a laboratory so that students measure what they calculate on the same day.",
    "ingrid-solberg": "Professor Solberg takes every class to at least one construction site a semester and asks students to explain a real structure to its engineers.",
    "naomi-whitfield": "Professor Whitfield teaches imaging from the physics up and invites clinicians to explain what the images are used for.",
    "samuel-adeyemi": "Dr. Adeyemi asks students to report the limits of their models as carefully as their results, and grades honest evaluation above high scores.",
}


def role_sentence(who: d.Person) -> str:
    chair_of = [pr for pr in d.PROGRAMS.values() if pr.chair == who.key]
    if chair_of:
        return f"{who.name} is the chair of the Department of {chair_of[0].name} at {d.SCHOOL}."
    title = who.title.lower()
    article = "an" if title[0] in "aeiou" else "a"
    return f"{who.name} is {article} {title} at {d.SCHOOL}."


def profile_page(Page, who: d.Person):
    summary, projects, honours = PROFILE_EXTRA[who.key]
    short = f"{who.name.split()[0]} {who.surname}"
    courses = [c for c in d.COURSES.values() if c.instructor == who.key]
    labs = [laboratory for laboratory in d.LABS.values() if laboratory.director == who.key]
    degree, university, year = who.phd.split(", ")
    body = "\n".join(
        [
            f"<h1>{who.name}</h1>",
            p(f"<strong>{who.title}</strong>"),
            facts(
                [
                    ("Department", f"Department of {who.department}"),
                    ("Office", who.office),
                    ("E-mail", f'<a href="mailto:{who.email}">{who.email}</a>'),
                    ("Phone", f"{d.PHONE}, ext. {who.phone_ext}"),
                    ("Office hours", who.office_hours),
                    ("Education", who.phd),
                ]
            ),
            h2("Biography"),
            p(
                role_sentence(who),
                f"{short} joined {d.SHORT} in {who.joined}.",
                f"{short} earned a {degree} at the {university} in {year}.",
                f"{short}'s research covers {who.research}.",
                f"{short}'s office is located in {who.office}.",
            ),
            p(summary),
            h2("Research interests"),
            ul(projects),
            *(
                [
                    h2("Laboratory"),
                    ul(
                        [
                            f"{lab(laboratory.key)}, located in {laboratory.location}, founded in {laboratory.founded}."
                            for laboratory in labs
                        ]
                    ),
                ]
                if labs
                else []
            ),
            h2("Teaching"),
            p(TEACHING[who.key]),
            ul(
                [
                    f"{course(c.code)} ({c.credits} credits, {c.term} term{'s' if ' and ' in c.term else ''})"
                    for c in courses
                ]
            ),
            h2("Selected publications"),
            ul(PUBLICATIONS[who.key]),
            h2("Honours"),
            p(f"{short}'s honours include {honours}."),
            h2("Office hours and contact"),
            p(
                f"{short}'s office hours are on {who.office_hours} during the semester, in {who.office}.",
                f'{short} can be reached by e-mail at <a href="mailto:{who.email}">{who.email}</a> or by telephone at extension {who.phone_ext}.',
            ),
            h2("Prospective students"),
            p(
                f"{short} supervises BSc projects, MSc theses and Summer Research Program students.",
                f"Students interested in joining the group should read the group's recent publications and then write to {who.email} with a CV and a short statement of interest.",
            ),
        ]
    )
    dept_program = next(pr for pr in d.PROGRAMS.values() if pr.name == who.department)
    return Page(
        f"faculty/{who.key}.html",
        who.name,
        f"{who.name}, {who.title}.",
        FACULTY_CRUMB,
        body,
        sidebar(
            "Related",
            [("/faculty/index.html", "Faculty directory"), (dept_program.href, f"{who.department} programs")]
            + [(laboratory.href, laboratory.name) for laboratory in labs],
        ),
    )


# ----------------------------------------------------------------------------------------------- research


def research_index(Page):
    blocks = []
    for laboratory in d.LABS.values():
        director = d.PEOPLE[laboratory.director]
        blocks += [
            f'<section id="{laboratory.key}">',
            h2(a(laboratory.href, laboratory.name) if laboratory.page else laboratory.name),
            p(
                f"The {laboratory.name} is located in {laboratory.location}.",
                f"The {laboratory.name} was founded in {laboratory.founded} and is directed by {person(laboratory.director)}.",
                f"The {laboratory.name}'s research covers {laboratory.focus}.",
                f"The {laboratory.name}'s equipment includes {laboratory.equipment}.",
            ),
            p(
                f'Students who want to join the {laboratory.name} should contact {director.name} at <a href="mailto:{director.email}">{director.email}</a>.'
            ),
            "</section>",
        ]
    body = "\n".join(
        [
            "<h1>Research at Northbridge</h1>",
            p(
                f"{d.SCHOOL} hosts seven research laboratories and groups across its five departments.",
                "Research at Northbridge is applied and collaborative: most projects have a partner in industry, in a hospital or in the city of Port Alder.",
                "In 2024 the institute's research funding was $38 million, and faculty and students published more than 420 peer-reviewed papers.",
            ),
            table(
                ["Laboratory", "Director", "Location", "Founded"],
                [
                    (
                        a(laboratory.href, laboratory.name),
                        person(laboratory.director),
                        laboratory.location,
                        str(laboratory.founded),
                    )
                    for laboratory in d.LABS.values()
                ],
                "Research laboratories",
            ),
            *blocks,
            h2("Undergraduate research"),
            p(
                "The Summer Research Program places about 120 undergraduates in research labs each summer.",
                "The Summer Research Program pays a stipend of $5,500 for ten weeks and ends with a poster session in Quarry Commons in August.",
                "Applications open in January and close on March 15.",
            ),
            h2("Partners and funding"),
            p(
                "The Westmarch Energy Agency is the largest funder of research at Northbridge, followed by the Westmarch Health Research Council and industry partners.",
                "Industry partners include Alder Marine Systems, Harbourline Robotics, Veyra Power, Tern Data Systems and Meridian Instruments.",
                "The Office of Research is located in Brennan Hall, room 310, and helps faculty prepare grant proposals and contracts.",
            ),
            p(
                "The Northbridge Innovation Office helps students and faculty protect inventions and start companies.",
                "Since 2010 the office has helped found 23 companies, including Tern Data Systems, which grew out of the Distributed Systems Lab.",
            ),
            h2("Research computing"),
            p(
                "Research computing at Northbridge is provided by the Tern cluster of the Distributed Systems Lab and by a shared GPU server of the Applied Machine Learning Group.",
                "Any faculty member may request an allocation on either system.",
            ),
        ]
    )
    return Page(
        "research/index.html",
        "Research",
        "Research laboratories of the Northbridge Institute of Technology.",
        (),
        body,
        RESEARCH_SIDEBAR,
    )


LAB_EXTRA = {
    "robotics-lab": (
        [
            "Heron-4 quadruped: a 38-kilogram four-legged robot that walks on sand, gravel and snow.",
            "Hull inspection: robots that crawl along ship hulls in Port Alder harbour, in partnership with Harbourline Robotics.",
            "Soft grippers: pneumatic grippers that pick up fruit and fragile parts without damage.",
        ],
        "The Robotics Lab was founded in 1997 by Professor Emeritus Walter Brandt, who built the first walking robot at Northbridge. "
        "Heron-4 is the fourth generation of quadruped robots built in the lab. "
        "Heron-4 won the Lakeshore Robotics Challenge in April 2025 after walking the full 2-kilometre course along the Lake Veyra beach.",
        "The lab has twelve PhD and MSc students, six undergraduate researchers and two research engineers. "
        "The lab hosts an open house for prospective students on the first Saturday of every month during the semester.",
    ),
    "distributed-systems-lab": (
        [
            "Tern cluster: 96 nodes used for experiments on replication and fault tolerance.",
            "Partition testing: tools that inject network failures into running systems and check their guarantees.",
            "Green storage: replicated storage that uses less energy without losing data.",
        ],
        "The Distributed Systems Lab was founded in 2011, the year the Calder Computing Center opened. "
        "The Tern cluster is a 96-node research computing cluster named after the seabirds of Lake Veyra. "
        "Students of CS 340 Distributed Systems run their projects on the Tern cluster.",
        "The lab has nine graduate students and hosts a weekly reading group that is open to all students. "
        "The lab's fault-injection tools are used by Tern Data Systems and two other companies.",
    ),
    "medical-imaging-lab": (
        [
            "Low-field MRI: images from a 0.5-tesla scanner that is cheaper to buy and to run than a clinical scanner.",
            "Fast reconstruction: algorithms that produce images from fewer measurements and shorter scans.",
            "Phantoms: tissue-mimicking objects used to test scanners safely.",
        ],
        "The Medical Imaging Lab was founded in 2018, when the Linden Biomedical Pavilion opened. "
        "The 0.5-tesla research MRI scanner is a low-field scanner installed in a shielded room on the second floor of the pavilion. "
        "Clinicians from Port Alder General Hospital co-supervise many of the lab's projects.",
        "The lab has ten graduate students and four clinical collaborators. "
        "Students of BME 380 Medical Imaging scan phantoms on the research scanner during the course.",
    ),
}


def lab_page(Page, laboratory: d.Lab):
    projects, history, people = LAB_EXTRA[laboratory.key]
    director = d.PEOPLE[laboratory.director]
    courses = [c for c in d.COURSES.values() if c.instructor == laboratory.director]
    body = "\n".join(
        [
            f"<h1>{laboratory.name}</h1>",
            facts(
                [
                    ("Director", person(laboratory.director)),
                    ("Location", laboratory.location),
                    ("Founded", str(laboratory.founded)),
                    ("Department", f"Department of {director.department}"),
                    ("Contact", f'<a href="mailto:{director.email}">{director.email}</a>'),
                ]
            ),
            p(
                f"The {laboratory.name} is a research laboratory of the Department of {director.department} at {d.SCHOOL}.",
                f"The {laboratory.name} is located in {laboratory.location}.",
                f"The {laboratory.name}'s research covers {laboratory.focus}.",
                f"The {laboratory.name} uses {laboratory.equipment}.",
            ),
            h2("History"),
            p(history),
            h2("Current projects"),
            ul(projects),
            h2("People"),
            p(f"The {laboratory.name} is directed by {person(laboratory.director)}.", people),
            h2("Teaching"),
            ul([f"{course(c.code)} is taught by the lab director {term_phrase(c)}." for c in courses]),
            h2("Join the lab"),
            p(
                f"Undergraduates can join the {laboratory.name} through the Summer Research Program or a senior design project.",
                f"Prospective MSc students should apply to the {d.PROGRAMS[next(k for k, pr in d.PROGRAMS.items() if pr.name == director.department)].msc} "
                f"by the priority deadline of {d.GRAD_PRIORITY} and name the lab in their statement of purpose.",
            ),
        ]
    )
    return Page(
        f"research/{laboratory.key}.html",
        laboratory.name,
        f"The {laboratory.name} at {d.SCHOOL}.",
        RESEARCH_CRUMB,
        body,
        RESEARCH_SIDEBAR,
    )


def pages(Page):
    out = [
        programs_index(Page),
        *(program_page(Page, pr) for pr in d.PROGRAMS.values()),
        programs_faq(Page),
        courses_index(Page),
        *(course_page(Page, c) for c in d.COURSES.values() if c.page),
        faculty_index(Page),
        *(profile_page(Page, w) for w in d.PEOPLE.values() if w.profile),
        research_index(Page),
        *(lab_page(Page, laboratory) for laboratory in d.LABS.values() if laboratory.page),
    ]
    return out
