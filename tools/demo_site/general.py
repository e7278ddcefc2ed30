"""Home, about, history, student life, campus, housing, library, contact, news, legal and the private page."""

from __future__ import annotations

import data as d
from helpers import CAMPUS_SIDEBAR, a, building, facts, h2, h3, lab, p, person, program, sidebar, table, ul

NEWS = [
    d.NewsItem(
        "heron-4-wins-lakeshore-challenge",
        "April 12, 2025",
        "Heron-4 quadruped wins the Lakeshore Robotics Challenge",
        "The Robotics Lab's four-legged robot walked the full beach course along Lake Veyra.",
        (
            "Heron-4, the quadruped robot of the Robotics Lab, won the Lakeshore Robotics Challenge on April 12, 2025.",
            "The Lakeshore Robotics Challenge is an annual competition in which walking robots cross a 2-kilometre course of sand, shingle and shallow water on the Lake Veyra beach.",
            "Heron-4 was the only robot among fourteen entries to finish the full course, in 41 minutes.",
            "The team of eleven students was led by MSc student Tomas Ferreira and advised by Professor Helena Marsh, the director of the Robotics Lab.",
            "Heron-4 is a 38-kilogram robot with twelve electric motors and a control system written by students of ME 350 Robotics and Control.",
            "The prize of $20,000 will pay for a new set of legs designed for snow, which the team plans to test in the winter of 2026.",
            "Professor Marsh said that the win was the result of four years of work by more than forty students, many of whom started in the Robotics Club as first-year students.",
            "Heron-4 will be on display in the Hale Hall atrium during the Northbridge Open Day on the third Saturday of October.",
        ),
    ),
    d.NewsItem(
        "power-systems-lab-grant",
        "February 3, 2025",
        "Power Systems Lab receives $3.2 million for microgrid research",
        "A grant from the Westmarch Energy Agency will extend the Voss Hall microgrid to three campus buildings.",
        (
            "The Power Systems Lab has received a $3.2 million grant from the Westmarch Energy Agency for microgrid research.",
            "The four-year project is led by Professor Rafael Dominguez, the chair of the Department of Electrical Engineering.",
            "The grant will extend the lab's 250-kilowatt microgrid testbed from Voss Hall to Hale Hall and the Marlowe Building, so that the three buildings can share solar power and battery storage.",
            "The project will employ six graduate students and offer ten places in the Summer Research Program.",
            "Results will be shared with Veyra Power, the electricity company that serves Port Alder.",
            "The Westmarch Energy Agency is the regional agency that funds research on clean energy and energy efficiency.",
            "Professor Dominguez said that the extended microgrid will let students of EE 410 Power Electronics test their converters on a system that powers real buildings.",
            "Construction of the new connections will start in the summer of 2025 and finish by the end of 2026.",
        ),
    ),
    d.NewsItem(
        "new-msc-concentration-ml-systems",
        "May 20, 2025",
        "New MSc concentration in Machine Learning Systems",
        "From Fall 2026 the MSc in Software Engineering offers a concentration in Machine Learning Systems.",
        (
            "From Fall 2026 the Department of Software Engineering will offer a new MSc concentration in Machine Learning Systems.",
            "The concentration in Machine Learning Systems is a set of four graduate courses on training, evaluating and deploying machine learning models.",
            "The concentration builds on CS 320 Machine Learning Systems and is coordinated by Dr. Samuel Adeyemi of the Applied Machine Learning Group.",
            "Students in the concentration complete an industry project in which they adapt a language model to the documents of a partner company and evaluate it on held-out questions.",
            "Applications for Fall 2026 are due by the graduate priority deadline of February 1.",
            "Dr. Adeyemi said that the concentration answers a clear demand from employers in the region, who want engineers able to measure whether a model really helps.",
            "The four courses of the concentration can also be taken as electives by students of the other MSc programs.",
        ),
    ),
    d.NewsItem(
        "meridian-tower-solar-roof",
        "September 8, 2025",
        "Meridian Tower gets a solar roof built by students",
        "Students of three departments designed and installed a 90-kilowatt solar roof on the newest residence hall.",
        (
            "Meridian Tower, the newest residence hall at Northbridge, now has a 90-kilowatt solar roof designed and installed by students.",
            "The project brought together students of mechanical, electrical and civil engineering in a two-semester senior design project.",
            "Civil engineering students checked the roof structure for the extra load and for wind, mechanical engineering students designed the mounting frames, "
            "and electrical engineering students designed the connection to the campus microgrid of the Power Systems Lab.",
            "The solar roof is expected to produce about 95 megawatt-hours a year, roughly a third of the electricity that Meridian Tower uses.",
            "The roof was inaugurated by President Margaret Ellison on September 8, 2025, at the start of the fall semester.",
            "A live display of the roof's output is shown in the lobby of Meridian Tower and in the Quarry Commons dining hall.",
        ),
    ),
    d.NewsItem(
        "old-harbour-bridge-monitoring",
        "November 18, 2025",
        "Six years of listening to the Old Harbour Bridge",
        "The Structures and Materials Lab publishes six years of sensor data from the Old Harbour Bridge.",
        (
            "The Structures and Materials Lab has published six years of data from the 140 sensors it installed on the Old Harbour Bridge in 2019.",
            "The Old Harbour Bridge is a steel truss bridge built in 1908 and designed by graduates of the Department of Civil Engineering.",
            "The sensors measure strain, vibration, temperature and the movement of the bearings every second, and they send the data to the lab over the city's fibre network.",
            "The study led by Professor Ingrid Solberg found that the bridge is in good condition but that two bearings move less freely in winter than in summer.",
            "The city of Port Alder will replace the two bearings in 2026 on the basis of the findings.",
            "Students of CE 230 Structural Analysis use the bridge data every spring to compare their models with a real structure.",
        ),
    ),
]


def home(Page):
    body = "\n".join(
        [
            f"<h1>Welcome to {d.SCHOOL}</h1>",
            p(
                f"{d.SCHOOL} is a private engineering school in {d.CITY} with {d.STUDENTS_TOTAL} students and {d.FACULTY_COUNT} faculty members.",
                f"{d.SCHOOL} was founded in {d.FOUNDED} as the Northbridge School of Mechanic Arts.",
                'Our motto is "Build what lasts", and for more than 130 years our graduates have designed the machines, grids, bridges, software and medical devices that people rely on.',
            ),
            h2("Degree programs"),
            p("Northbridge offers a Bachelor of Science and a Master of Science in five engineering disciplines."),
            ul([f"{program(k)}: {pr.overview.split('. ')[-1].rstrip('.')}." for k, pr in d.PROGRAMS.items()]),
            h2("Admissions at a glance"),
            p(
                f"The regular decision deadline for {d.ENTRY} is {d.REGULAR_DECISION}, and the graduate priority deadline is {d.GRAD_PRIORITY}.",
                f"Undergraduate tuition is {d.UG_TUITION} per year, and about 70 percent of undergraduates receive a scholarship or grant.",
                "Read about "
                + a("/admissions/requirements.html", "admission requirements")
                + ", "
                + a("/admissions/tuition-and-fees.html", "tuition")
                + " and "
                + a("/admissions/scholarships.html", "scholarships")
                + ".",
            ),
            h2("Research"),
            p(
                "Seven research laboratories work with industry, hospitals and the city of Port Alder.",
                f"Among them are the {lab('robotics-lab')} in Hale Hall, the {lab('medical-imaging-lab')} in the Linden Biomedical Pavilion and the {lab('distributed-systems-lab')} in the Calder Computing Center.",
            ),
            h2("Latest news"),
            ul([f"{a(n.href, n.title)} ({n.date}). {n.summary}" for n in NEWS]),
            h2("Visit Northbridge"),
            p(
                "Campus tours run every weekday and on Saturday mornings, and the Northbridge Open Day is held on the third Saturday of October.",
                "Find us at " + d.ADDRESS + ", or " + a("/contact.html", "contact us") + ".",
            ),
        ]
    )
    side = sidebar(
        "Quick links",
        [
            ("/admissions/deadlines.html", "Application deadlines"),
            ("/courses/index.html", "Course catalog"),
            ("/faculty/index.html", "Faculty directory"),
            ("/campus/housing.html", "Housing"),
            ("/admissions/faq.html", "Admissions FAQ"),
            ("/programs/faq.html", "Programs FAQ"),
        ],
    )
    return Page("index.html", "Home", f"{d.SCHOOL}: engineering degrees in {d.CITY}.", (), body, side)


def about(Page):
    body = "\n".join(
        [
            f"<h1>About {d.SCHOOL}</h1>",
            p(
                f"{d.SCHOOL} is a private, non-profit engineering school located in {d.CITY}, a harbour city on the shore of Lake Veyra.",
                f"{d.SCHOOL} is known for hands-on teaching: every student builds, tests and breaks real things from the first semester.",
            ),
            facts(
                [
                    ("Founded", str(d.FOUNDED)),
                    ("Students", f"{d.STUDENTS_TOTAL} ({d.STUDENTS_UG} undergraduate, {d.STUDENTS_GRAD} graduate)"),
                    ("Faculty", d.FACULTY_COUNT),
                    ("Student-to-faculty ratio", d.RATIO),
                    ("Campus", f"{d.CAMPUS_ACRES} acres"),
                    ("President", d.PRESIDENT),
                    ("Motto", "Build what lasts"),
                    ("Colours", "Slate blue and copper"),
                    ("Mascot", "The Heron"),
                ]
            ),
            h2("Mission"),
            p(
                "The mission of Northbridge Institute of Technology is to educate engineers who build what lasts: safe, useful and sustainable machines, structures and systems.",
                "The institute pursues its mission through small classes, laboratory work from the first year and research that answers the needs of its region.",
            ),
            h2("Departments"),
            ul(
                [
                    f"{program(k, 'Department of ' + pr.name)}, founded in {pr.department_founded}, located in {building(pr.building)}."
                    for k, pr in d.PROGRAMS.items()
                ]
                + [
                    "Department of Mathematics, which teaches the common first-year mathematics courses, located in Brennan Hall."
                ]
            ),
            h2("Leadership"),
            p(
                f"{d.PRESIDENT} is the fourteenth president of {d.SCHOOL} and has led the institute since 2019.",
                "Before coming to Northbridge, Dr. Ellison was dean of engineering at the University of Southmere.",
                "The Provost of Northbridge is Professor Daniel Osei, who oversees the five academic departments and the library.",
                "The Board of Trustees has 21 members, including four alumni elected by the Northbridge Alumni Association.",
            ),
            h2("Facts and figures"),
            table(
                ["Measure", "Value"],
                [
                    ("Undergraduate students", d.STUDENTS_UG),
                    ("Graduate students", d.STUDENTS_GRAD),
                    ("Faculty members", d.FACULTY_COUNT),
                    ("International students", "18 percent, from 64 countries"),
                    ("Research funding in 2024", "$38 million"),
                    ("Living alumni", "31,000"),
                    ("Campus area", f"{d.CAMPUS_ACRES} acres"),
                ],
                "Northbridge in numbers",
            ),
            h2("Northbridge and Port Alder"),
            p(
                "Northbridge has worked with the city of Port Alder since its founding, when its first apprentices trained in the harbour shipyards.",
                "Port Alder General Hospital is the institute's main clinical partner and shares the Linden Biomedical Pavilion walkway.",
                "The Port Alder Transit Authority, Veyra Power and Alder Marine Systems each sponsor senior design projects every year.",
                "The Northbridge Community Workshop is a free evening program in which students teach electronics, woodworking and programming to secondary school pupils from Port Alder.",
            ),
            h2("Sustainability"),
            p(
                "The Northbridge Climate Plan is a commitment to make the campus carbon-neutral by 2040.",
                "Since 2015 the campus has cut its energy use by 28 percent, and the solar roofs on Voss Hall and Meridian Tower now supply about 9 percent of its electricity.",
            ),
            h2("Accreditation"),
            p(
                "Northbridge Institute of Technology is accredited by the Higher Education Commission of Westmarch.",
                "All five BSc programs are also accredited by the Engineering Accreditation Council of Westmarch.",
            ),
            h2("Learn more"),
            ul(
                [
                    a("/about/history.html", "Our history, from 1891 to today"),
                    a("/campus/index.html", "The campus and its buildings"),
                    a("/research/index.html", "Research laboratories"),
                    a("/contact.html", "How to reach us"),
                ]
            ),
        ]
    )
    return Page(
        "about/index.html",
        "About",
        f"About {d.SCHOOL}.",
        (),
        body,
        sidebar(
            "About",
            [
                ("/about/index.html", "About Northbridge"),
                ("/about/history.html", "History"),
                ("/campus/index.html", "Campus"),
                ("/news/index.html", "News"),
            ],
        ),
    )


def history(Page):
    timeline = [
        (
            "1891",
            "Eleanor Hale and Josiah Brennan found the Northbridge School of Mechanic Arts with twenty-two apprentices.",
        ),
        ("1897", "The Department of Civil Engineering is created to train engineers for the Port Alder harbour."),
        ("1904", "Hale Hall, the first purpose-built workshop and classroom building, opens."),
        ("1911", "The Department of Electrical Engineering is established."),
        ("1912", "Brennan Hall opens as the administration building."),
        (
            "1923",
            "The school is renamed Northbridge Institute of Technology and awards its first Bachelor of Science degrees.",
        ),
        ("1931", "Voss Hall opens for electrical engineering."),
        ("1952", "The first Master of Science degrees are awarded."),
        ("1959", "The Marlowe Building opens for civil engineering."),
        ("1962", "The Structures and Materials Lab and the North Court residence open."),
        ("1968", "Ashworth Library opens."),
        ("1984", "The Department of Software Engineering is established."),
        ("1997", "The Robotics Lab is founded and Heron Fieldhouse opens."),
        ("2002", "The Department of Biomedical Engineering is founded."),
        ("2011", "The Calder Computing Center opens."),
        ("2018", "The Linden Biomedical Pavilion opens next to Port Alder General Hospital."),
        ("2021", "Meridian Tower opens as the newest residence hall."),
    ]
    body = "\n".join(
        [
            "<h1>History of Northbridge</h1>",
            p(
                f"{d.SCHOOL} was founded in {d.FOUNDED} by Eleanor Hale and Josiah Brennan, two Port Alder shipbuilders who could not find enough trained mechanics for their yards.",
                "The Northbridge School of Mechanic Arts opened in a rented warehouse on the harbour with twenty-two apprentices, two instructors and a steam engine.",
            ),
            h2("The early years"),
            p(
                "The Northbridge School of Mechanic Arts was a two-year school that taught drawing, machining and the principles of steam power.",
                "Hale Hall was built in 1904 with money raised by the shipbuilders of Port Alder, and it is still the home of mechanical engineering today.",
                "The Department of Civil Engineering was created in 1897, and its graduates designed much of the Port Alder tramway and the Old Harbour Bridge.",
            ),
            h2("The fire of 1934"),
            p(
                "In 1934 a fire destroyed the west wing of Hale Hall, including the drawing office and most of the school's early records.",
                "Students and alumni rebuilt the wing in eighteen months, and the restored drawing office reopened in 1936.",
                "The steam-engine governor that survived the fire is still used in ME 201 Statics and Dynamics.",
            ),
            h2("Becoming an institute"),
            p(
                "The school was renamed Northbridge Institute of Technology in 1923, when it began to award four-year Bachelor of Science degrees.",
                "The Department of Electrical Engineering was established in 1911, and Voss Hall was built in 1931 to house its growing laboratories.",
                "The first Master of Science degrees were awarded in 1952.",
            ),
            h2("Growth after the war"),
            p(
                "Enrollment tripled between 1950 and 1970.",
                "The Marlowe Building was opened in 1959 for civil engineering, and Ashworth Library was opened in 1968 with 80,000 volumes.",
                "The Department of Software Engineering was established in 1984, when computing courses outgrew the mathematics department.",
            ),
            h2("A modern research institute"),
            p(
                "The Robotics Lab was founded in 1997, the first of the institute's seven research laboratories.",
                "The Department of Biomedical Engineering was founded in 2002 in partnership with Port Alder General Hospital.",
                "The Calder Computing Center was opened in 2011 and the Linden Biomedical Pavilion was opened in 2018.",
                f"Since 2019 the institute has been led by {d.PRESIDENT}, its fourteenth president.",
            ),
            h2("Timeline"),
            table(["Year", "Event"], timeline, "Northbridge timeline"),
            h2("Presidents"),
            p(
                "Northbridge has had fourteen presidents.",
                "The first president was Josiah Brennan, who served from 1891 to 1908.",
                "The longest-serving president was Agnes Calder, who led the institute from 1961 to 1989 and after whom the Calder Computing Center is named.",
            ),
            h2("Traditions"),
            ul(
                [
                    "The Founders' Bell in Hale Hall is rung once for every graduating class at commencement.",
                    "The Heron Hackathon is a 36-hour programming event held every March since 2009.",
                    "The Bridge Night is an annual contest in which first-year students build balsa-wood bridges and load them to failure in the Marlowe Building.",
                ]
            ),
        ]
    )
    return Page(
        "about/history.html",
        "History",
        f"The history of {d.SCHOOL} since {d.FOUNDED}.",
        (("/about/index.html", "About"),),
        body,
        sidebar(
            "About",
            [
                ("/about/index.html", "About Northbridge"),
                ("/about/history.html", "History"),
                ("/campus/index.html", "Campus"),
            ],
        ),
    )


def student_life(Page):
    clubs = [
        (
            "Northbridge Racing",
            "The Formula Student team, which designs and builds an electric race car every year in the Hale Hall workshop.",
        ),
        (
            "Robotics Club",
            "An open club with about 150 members that builds robots for competitions and school outreach.",
        ),
        (
            "Engineers for Communities",
            "A student group that designs water, energy and shelter projects with communities in the Lake Veyra region.",
        ),
        (
            "Women in Engineering Society",
            "A society that runs mentoring, industry visits and the annual Northbridge Women in Engineering Conference.",
        ),
        ("Northbridge 88.4", "The campus radio station, run by students from the top floor of Voss Hall."),
        (
            "Concrete Canoe Team",
            "A civil engineering team that builds a canoe out of concrete and races it on Lake Veyra.",
        ),
    ]
    body = "\n".join(
        [
            "<h1>Student life</h1>",
            p(
                "Student life at Northbridge is busy, practical and close-knit.",
                "There are more than 140 student clubs and societies, a competitive sports program and a campus where most undergraduates live for at least two years.",
            ),
            h2("Clubs and societies"),
            table(["Club", "What it does"], clubs, "Some of our clubs"),
            p(
                "Northbridge Racing is the institute's Formula Student team and builds an electric race car every year.",
                "The Robotics Club is the largest technical club on campus, with about 150 members.",
                "The Student Union is located in Quarry Commons, room 201, and funds clubs from the student services fee.",
            ),
            h2("Events"),
            ul(
                [
                    "The Heron Hackathon is a 36-hour programming event held every March in the Calder Computing Center.",
                    "The Bridge Night is a first-year contest held every November in the Marlowe Building.",
                    "The Spring Regatta is a rowing and concrete-canoe race on Lake Veyra held every April.",
                    "The Career Fair is held twice a year, in October and February, in Quarry Commons.",
                ]
            ),
            h2("Student government"),
            p(
                "The Student Union is the elected government of Northbridge students and has a council of 24 members elected every April.",
                "The Graduate Student Association represents MSc students and organises the Graduate Research Symposium every November.",
                "Students sit on the committees that review tuition, housing and the academic calendar.",
            ),
            h2("Arts and culture"),
            p(
                "Northbridge has an orchestra, two choirs, a theatre company and a photography society, all open to students of every department.",
                "The Quarry Commons gallery shows work by students and local artists, and the Northbridge Film Society screens a film every Friday evening during the semester.",
            ),
            h2("Athletics"),
            p(
                "The Northbridge Herons compete in the Lakeshore Athletic Conference in fourteen sports, including rowing, soccer, basketball, swimming and cross-country running.",
                "Heron Fieldhouse is the sports center of the campus and was opened in 1997.",
                "Heron Fieldhouse includes a gymnasium, a 25-metre swimming pool and a climbing wall, and it is open from 06:00 to 23:00 every day during the semester.",
            ),
            h2("Health and wellbeing"),
            p(
                "The Student Health Center is located in Quarry Commons, room 110, and offers free appointments with nurses and doctors.",
                "The Counseling Center is located in Quarry Commons, room 120, and offers free and confidential counseling to every student.",
                "Students can reach a counselor at any hour through the 24-hour support line by calling the main switchboard and asking for the counselor on call.",
            ),
            h2("Careers"),
            p(
                "Career Services is located in Quarry Commons, room 210.",
                "Career Services offers CV reviews, mock interviews, an internship database with more than 400 listings each year and the twice-yearly Career Fair.",
                "About 80 percent of Northbridge students complete at least one internship before graduating.",
            ),
            p(
                "The Northbridge Co-op Program is an optional program in which students alternate semesters of study with paid semesters of work at partner companies.",
                "Co-op students graduate one semester later than other students, with about twelve months of engineering experience.",
                "In 2024 the median co-op salary was $23 per hour, and 61 percent of co-op students received a job offer from a co-op employer.",
            ),
            p(
                "The Northbridge Alumni Mentoring Network connects students with some of the institute's 31,000 living alumni.",
                "Students can meet a mentor in their field for career advice, a visit to a workplace or a practice interview.",
            ),
            h2("Food"),
            p(
                "The Quarry Commons dining hall is the main dining hall on campus and serves breakfast, lunch and dinner every day.",
                "The Hale Hall cafe and the Calder Computing Center coffee bar are open on weekdays.",
                "Students can read more on the " + a("/campus/housing.html", "housing and dining") + " page.",
            ),
        ]
    )
    return Page(
        "student-life.html",
        "Student life",
        "Clubs, events, athletics and support at Northbridge.",
        (),
        body,
        CAMPUS_SIDEBAR,
    )


def campus(Page):
    rows = [(b.name, str(b.opened), b.houses[0].upper() + b.houses[1:]) for b in d.BUILDINGS.values()]
    body = "\n".join(
        [
            "<h1>Campus and buildings</h1>",
            p(
                f"The Northbridge campus is an {d.CAMPUS_ACRES}-acre campus on the north shore of Lake Veyra, two kilometres from the centre of {d.CITY}.",
                "The campus is built around the Quadrangle, a lawn with Hale Hall on its north side and Ashworth Library on its south side.",
            ),
            table(["Building", "Opened", "What is inside"], rows, "Campus buildings"),
            h2("Academic buildings"),
            p(*(f"{b.name} was opened in {b.opened} and houses {b.houses}." for b in d.BUILDINGS.values())),
            h2("Laboratories by building"),
            ul([f"{lab(laboratory.key)}: {laboratory.location}." for laboratory in d.LABS.values()]),
            h2("Getting around"),
            p(
                "The campus is car-free inside the ring road, and most buildings are within a ten-minute walk of each other.",
                "The free Heron Shuttle bus runs every fifteen minutes between the campus, Port Alder Central Station and Port Alder General Hospital.",
                "Visitor parking is available in the Meridian Avenue garage for $2 per hour.",
            ),
            h2("The Quadrangle and the shore"),
            p(
                "The Quadrangle is the central lawn of the campus and the site of commencement every May.",
                "The Lakeshore Path is a 3-kilometre walking and cycling path along the campus shoreline that links the boathouse, Willow House and Heron Fieldhouse.",
                "The Northbridge Boathouse is the home of the rowing team and the Concrete Canoe Team and was built in 1926.",
            ),
            h2("Accessibility"),
            p(
                "All academic buildings have step-free entrances and lifts.",
                "The Disability Resource Center is located in Quarry Commons, room 130, and arranges accommodations for students and visitors.",
            ),
            h2("Housing"),
            p(
                "Northbridge has three residence halls: North Court, Willow House and Meridian Tower.",
                "Read more on the " + a("/campus/housing.html", "housing and dining") + " page.",
            ),
        ]
    )
    return Page("campus/index.html", "Campus", f"The {d.SCHOOL} campus and its buildings.", (), body, CAMPUS_SIDEBAR)


def housing(Page):
    rows = [(r.name, str(r.opened), str(r.beds), r.who, r.rooms, f"{r.price} per year") for r in d.RESIDENCES]
    blocks = []
    for r in d.RESIDENCES:
        blocks += [
            h3(r.name),
            p(
                f"{r.name} is a residence hall for {r.who} that was opened in {r.opened}.",
                f"{r.name} provides {r.beds} beds in {r.rooms}.",
                f"The {r.name} room rate is a flat {r.price} per academic year.",
                r.notes,
            ),
        ]
    body = "\n".join(
        [
            "<h1>Housing and dining</h1>",
            p(
                "About 2,300 students live on campus in three residence halls.",
                "Housing is guaranteed for all first-year students and for first-year international students.",
                f'The Housing Office is located in Quarry Commons, room 220, and can be reached at <a href="mailto:{d.HOUSING_EMAIL}">{d.HOUSING_EMAIL}</a>.',
            ),
            table(
                ["Residence", "Opened", "Beds", "For", "Rooms", "Price"], rows, f"Residence halls, {d.ACADEMIC_YEAR}"
            ),
            *blocks,
            h2("Residence life"),
            p(
                "Every residence hall has a hall director who lives in the building and a team of resident advisors who are trained upper-year students.",
                "The Residence Council is the student body that organises events in the residence halls and represents residents to the Housing Office.",
                "Quiet hours in all residence halls run from 23:00 to 07:00 on weeknights and are extended to 24 hours during examination weeks.",
                "Laundry rooms, bicycle storage and study lounges are available in every building.",
            ),
            h2("Applying for housing"),
            p(
                f"The housing application deadline for new students is {d.HOUSING_DEADLINE}.",
                "Room assignments are sent by e-mail in the last week of July.",
                "Returning students choose rooms in a lottery held in March.",
            ),
            h2("Dining"),
            p(
                f"The Quarry Commons meal plan costs {d.MEAL_PLAN} per year and includes nineteen meals a week in the dining hall.",
                "The meal plan is required for students in North Court and optional for students in Willow House and Meridian Tower, which have kitchens.",
                "The dining hall offers vegetarian, vegan, halal and gluten-free options at every meal.",
            ),
            h2("Moving in"),
            p(
                "Move-in day for first-year students is the Saturday before orientation, and student volunteers help carry belongings from the car park to the rooms.",
                "Each room has a bed, a desk, a chair, a wardrobe and a bookshelf; students bring their own bedding and towels.",
                "Returning students move in on the Monday before classes begin.",
            ),
            h2("Living off campus"),
            p(
                "Many upper-year and graduate students rent apartments in the Harbour and Meridian neighbourhoods of Port Alder.",
                "The Housing Office keeps a list of landlords and runs a roommate-matching service.",
                "A one-bedroom apartment near campus typically rents for $1,150 to $1,400 per month.",
            ),
        ]
    )
    return Page(
        "campus/housing.html",
        "Housing and dining",
        "Residence halls, meal plans and off-campus housing.",
        (("/campus/index.html", "Campus"),),
        body,
        CAMPUS_SIDEBAR,
    )


def library(Page):
    hours = [
        ("Monday to Thursday", "07:30 to 24:00"),
        ("Friday", "07:30 to 20:00"),
        ("Saturday", "10:00 to 20:00"),
        ("Sunday", "10:00 to 24:00"),
        ("Examination weeks", "Open 24 hours"),
    ]
    body = "\n".join(
        [
            "<h1>Ashworth Library</h1>",
            p(
                "Ashworth Library is the main library of Northbridge Institute of Technology.",
                "Ashworth Library was opened in 1968 and is located on the south side of the Quadrangle.",
                "Ashworth Library holds about 410,000 printed volumes, 62,000 electronic journals and the institute's archive of theses since 1923.",
            ),
            h2("Opening hours"),
            table(["Day", "Hours"], hours, "Opening hours during the semester"),
            h2("Services"),
            ul(
                [
                    "Research consultations with subject librarians for every department.",
                    "Interlibrary loan for books and articles that the library does not hold, usually within five days.",
                    "Group study rooms that can be booked for up to three hours a day.",
                    "Printing, scanning and large-format poster printing.",
                    "Workshops on literature searching, reference management and research data.",
                ]
            ),
            h2("Special collections"),
            p(
                "The Hale Archive is the special collection of Ashworth Library that holds the papers of the founders, the drawings of the original workshop and the photographs of the Port Alder shipyards.",
                "The Hale Archive also holds the engineering drawings of the Old Harbour Bridge, which was designed by Northbridge graduates in 1908.",
                "The reading room of the Hale Archive is open by appointment on weekdays from 10:00 to 16:00.",
            ),
            p(
                "The Standards Collection gives every student free online access to engineering standards and codes of practice.",
                "The Patent Desk helps students and faculty search patents and prepare invention disclosures.",
            ),
            h2("Fabrication Studio"),
            p(
                "The Fabrication Studio is located on the ground floor of Ashworth Library.",
                "The Fabrication Studio provides 3D printers, laser cutters, a vinyl cutter and electronics benches to every student after a one-hour safety induction.",
                "Material costs are covered by the technology fee for up to 2 kilograms of printing filament per student per semester.",
            ),
            h2("Writing Center"),
            p(
                "The Writing Center is located on the first floor of Ashworth Library.",
                "The Writing Center offers free one-to-one sessions on lab reports, theses, applications and presentations.",
            ),
            h2("Borrowing"),
            p(
                "Undergraduates may borrow up to 30 items for four weeks, and graduate students and faculty may borrow up to 60 items for one semester.",
                "Items can be renewed online up to three times unless another reader has requested them.",
            ),
            h2("Search the collections"),
            p(
                "The library catalog and the electronic journals are searched through the "
                + a("https://catalog.example.org/northbridge", "Ashworth online catalog")
                + ".",
                "Theses written at Northbridge are also listed in the "
                + a("https://theses.example.net/search?school=northbridge", "regional theses repository")
                + ".",
            ),
            h2("Contact"),
            p(
                "The library help desk can be reached at library@northbridge.example or by telephone at extension 1800.",
                "The head librarian is Ms. Ruth Abernathy.",
            ),
        ]
    )
    return Page(
        "library.html",
        "Ashworth Library",
        "Ashworth Library: collections, hours and services.",
        (),
        body,
        CAMPUS_SIDEBAR,
    )


def contact(Page):
    offices = [
        ("Admissions Office", "Brennan Hall, room 101", d.ADMISSIONS_EMAIL, "1101"),
        ("Graduate Admissions", "Brennan Hall, room 105", d.GRADUATE_EMAIL, "1105"),
        ("Registrar", "Brennan Hall, room 120", "registrar@northbridge.example", "1120"),
        ("Financial Aid Office", "Brennan Hall, room 130", d.FINAID_EMAIL, "1130"),
        ("Bursar's Office", "Brennan Hall, room 140", "bursar@northbridge.example", "1140"),
        ("International Student Office", "Quarry Commons, room 305", d.INTERNATIONAL_EMAIL, "7305"),
        ("Housing Office", "Quarry Commons, room 220", d.HOUSING_EMAIL, "7220"),
        ("Career Services", "Quarry Commons, room 210", "careers@northbridge.example", "7210"),
    ]
    body = "\n".join(
        [
            "<h1>Contact us</h1>",
            p(
                f"The main address of {d.SCHOOL} is {d.ADDRESS}.",
                f"The main switchboard is {d.PHONE} and is staffed from 08:00 to 18:00 on weekdays.",
                f'General questions can be sent to <a href="mailto:{d.EMAIL}">{d.EMAIL}</a>.',
            ),
            h2("Offices"),
            table(
                ["Office", "Location", "E-mail", "Extension"],
                [(n, loc, f'<a href="mailto:{m}">{m}</a>', x) for n, loc, m, x in offices],
                "Offices",
            ),
            p(
                *(
                    f"{'' if n in ('Career Services', 'Graduate Admissions') else 'The '}{n} is located in {loc}."
                    for n, loc, _m, _x in offices
                )
            ),
            h2("Departments"),
            ul(
                [
                    f"{program(k, 'Department of ' + pr.name)}: {building(pr.building)}; chair {person(pr.chair)}, {d.PEOPLE[pr.chair].email}."
                    for k, pr in d.PROGRAMS.items()
                ]
            ),
            h2("Getting here"),
            p(
                "Port Alder Central Station is two kilometres from campus, and the free Heron Shuttle bus runs from the station to Brennan Hall every fifteen minutes.",
                "City bus line 14 stops at the Meridian Avenue gate.",
                "Port Alder International Airport is 25 kilometres from campus, about 35 minutes by train.",
            ),
            h2("Media and events"),
            p(
                "The Office of Communications is located in Brennan Hall, room 320, and answers press enquiries at press@northbridge.example.",
                "Rooms in Quarry Commons and the Hale Hall lecture theatre can be booked for external events through the Events Office at extension 1350.",
            ),
            h2("Emergencies"),
            p(
                "Campus Security is open 24 hours a day in the gatehouse at the Meridian Avenue entrance.",
                "In an emergency on campus, call extension 5555 from any campus telephone.",
            ),
        ]
    )
    return Page("contact.html", "Contact us", "Addresses, offices and directions.", (), body, CAMPUS_SIDEBAR)


def news_index(Page):
    body = "\n".join(
        [
            "<h1>News</h1>",
            p("News and announcements from Northbridge Institute of Technology."),
            *(
                f'<section class="news-item">\n{h2(a(n.href, n.title))}\n<p class="date">{n.date}</p>\n{p(n.summary)}\n</section>'
                for n in NEWS
            ),
            h2("Press enquiries"),
            p("The Office of Communications answers press enquiries at press@northbridge.example."),
        ]
    )
    return Page("news/index.html", "News", "News from Northbridge.", (), body)


def news_item(Page, n: d.NewsItem):
    others = [o for o in NEWS if o is not n]
    body = "\n".join(
        [
            f"<h1>{n.title}</h1>",
            f'<p class="date">{n.date}</p>',
            p(f"<em>{n.summary}</em>"),
            *(p(x) for x in n.paragraphs),
        ]
    )
    return Page(
        f"news/{n.key}.html",
        n.title,
        n.summary,
        (("/news/index.html", "News"),),
        body,
        sidebar("More news", [(o.href, o.title) for o in others]),
    )


def privacy(Page):
    body = "\n".join(
        [
            "<h1>Privacy policy</h1>",
            p(
                "This privacy policy explains what personal data Northbridge Institute of Technology collects through this website and how it is used.",
                "The institute's data protection officer can be reached at privacy@northbridge.example.",
            ),
            h2("What we collect"),
            ul(
                [
                    "Information you give us in forms, such as an application or a request for a prospectus.",
                    "Technical data such as your IP address, browser type and the pages you visit.",
                    "Cookies, as described below.",
                ]
            ),
            h2("How we use it"),
            p(
                "We use personal data to answer your requests, to process applications and to improve the website.",
                "We do not sell personal data, and we share it only with service providers bound by contract.",
            ),
            h2("Cookies", "cookies"),
            p(
                "Essential cookies keep you signed in and remember your cookie choice; they cannot be switched off.",
                "Analytics cookies are optional and help us understand which pages are useful.",
                "You can change your cookie choice at any time with the cookie banner or the cookie settings link in the footer.",
            ),
            h2("Your rights"),
            p(
                "You may ask to see, correct or delete the personal data we hold about you by writing to the data protection officer.",
                "Personal data from applications is kept for two years after the admission cycle ends.",
            ),
        ]
    )
    return Page("legal/privacy.html", "Privacy policy", "How this website uses personal data and cookies.", (), body)


def terms(Page):
    body = "\n".join(
        [
            "<h1>Terms of use</h1>",
            p(
                "These terms of use apply to the website of Northbridge Institute of Technology.",
                "This website describes a fictional institution: it was written as sample data for the litft demo, and every person, place and figure on it is invented.",
            ),
            h2("Use of content"),
            p(
                "Text on this website may be copied for non-commercial purposes with attribution.",
                "Logos and photographs may not be reused without permission.",
            ),
            h2("Accuracy"),
            p(
                "We try to keep the information on this website accurate, but tuition, deadlines and course details may change.",
                "The official record of a course is the catalog of the academic year in which the course is taken.",
            ),
            h2("External links"),
            p(
                "Links to external websites are provided for convenience; the institute is not responsible for their content."
            ),
        ]
    )
    return Page("legal/terms.html", "Terms of use", "Terms of use of this website.", (), body)


def private_page(Page):
    body = "\n".join(
        [
            "<h1>Staff area</h1>",
            p(
                "This area is for Northbridge staff only and is excluded from search engines by robots.txt.",
                "The staff parking permit code for the Meridian Avenue garage is Heron-7741.",
                "The staff town hall meeting is held on the first Monday of each month in Brennan Hall, room 300.",
            ),
        ]
    )
    return Page("private/staff-area.html", "Staff area", "Staff-only information.", (), body)


def pages(Page):
    return [
        home(Page),
        about(Page),
        history(Page),
        student_life(Page),
        campus(Page),
        housing(Page),
        library(Page),
        contact(Page),
        news_index(Page),
        *(news_item(Page, n) for n in NEWS),
        privacy(Page),
        terms(Page),
        private_page(Page),
    ]
