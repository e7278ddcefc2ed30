"""The facts of the fictional Northbridge Institute of Technology, in one place.

Every page of the demo site is rendered from these records (see build.py and pages.py), so a figure,
a date, a room or a name is written once and reads the same on every page that mentions it.
All names, places, companies and e-mail domains are invented; `.example` domains never resolve.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCHOOL = "Northbridge Institute of Technology"
SHORT = "Northbridge"
FOUNDED = 1891
CITY = "Port Alder"
ADDRESS = "1200 Meridian Avenue, Port Alder, NB 40127"
PHONE = "+1 (555) 014-2300"
EMAIL = "info@northbridge.example"
ADMISSIONS_EMAIL = "admissions@northbridge.example"
GRADUATE_EMAIL = "graduate@northbridge.example"
INTERNATIONAL_EMAIL = "international@northbridge.example"
FINAID_EMAIL = "finaid@northbridge.example"
HOUSING_EMAIL = "housing@northbridge.example"
PRESIDENT = "Dr. Margaret Ellison"
STUDENTS_TOTAL = "4,800"
STUDENTS_UG = "3,600"
STUDENTS_GRAD = "1,200"
FACULTY_COUNT = "310"
RATIO = "12 to 1"
CAMPUS_ACRES = "86"
ACADEMIC_YEAR = "2025–2026"
ENTRY = "Fall 2026"

# Money, written exactly as the pages print it.
UG_TUITION = "$24,600"
UG_TUITION_SEMESTER = "$12,300"
UG_TUITION_INTL = "$31,800"
GRAD_PER_CREDIT = "$1,150"
GRAD_MSC_TOTAL = "$41,400"
STUDENT_SERVICES_FEE = "$640"
TECHNOLOGY_FEE = "$220"
LAB_FEE = "$380"
APPLICATION_FEE = "$60"
GRAD_APPLICATION_FEE = "$75"
DEPOSIT = "$300"
MEAL_PLAN = "$5,200"
PROOF_OF_FUNDS = "$48,000"

# Deadlines for Fall 2026 entry.
EARLY_ACTION = "November 1"
EARLY_ACTION_DECISION = "December 15"
REGULAR_DECISION = "January 15"
REGULAR_DECISION_RELEASE = "March 20"
DEPOSIT_DEADLINE = "May 1"
GRAD_PRIORITY = "February 1"
GRAD_INTL_FINAL = "March 1"
GRAD_FINAL = "April 15"
SCHOLARSHIP_DEADLINE = "February 15"
FINAID_FORM_DEADLINE = "March 1"
TRANSFER_SPRING = "October 15"
HOUSING_DEADLINE = "May 15"

TOEFL_UG, TOEFL_GRAD = "90", "95"
IELTS_UG, IELTS_GRAD = "6.5", "7.0"
DUOLINGO_UG, DUOLINGO_GRAD = "120", "125"


@dataclass(frozen=True)
class Building:
    name: str
    opened: int
    houses: str


BUILDINGS = {
    "hale": Building("Hale Hall", 1904, "the Department of Mechanical Engineering and the Robotics Lab"),
    "brennan": Building(
        "Brennan Hall",
        1912,
        "the Admissions Office, the Registrar, the Financial Aid Office and the Department of Mathematics",
    ),
    "voss": Building(
        "Voss Hall",
        1931,
        "the Department of Electrical Engineering, the Power Systems Lab and the Signal Processing and Embedded Systems Lab",
    ),
    "marlowe": Building(
        "Marlowe Building", 1959, "the Department of Civil Engineering and the Structures and Materials Lab"
    ),
    "ashworth": Building("Ashworth Library", 1968, "the main library, the Fabrication Studio and the Writing Center"),
    "quarry": Building(
        "Quarry Commons",
        1975,
        "the student center, the dining hall, Career Services and the International Student Office",
    ),
    "calder": Building(
        "Calder Computing Center",
        2011,
        "the Department of Software Engineering, the Distributed Systems Lab and the Applied Machine Learning Group",
    ),
    "linden": Building(
        "Linden Biomedical Pavilion", 2018, "the Department of Biomedical Engineering and the Medical Imaging Lab"
    ),
    "fieldhouse": Building("Heron Fieldhouse", 1997, "the gymnasium, the swimming pool and the climbing wall"),
}


@dataclass(frozen=True)
class Person:
    key: str
    name: str  # as written in running text: "Professor Amara Okafor", "Dr. Samuel Adeyemi"
    title: str
    department: str
    building: str
    room: str
    email: str
    phone_ext: str
    research: str
    profile: bool = False
    phd: str = ""
    joined: int = 0
    office_hours: str = ""

    @property
    def surname(self) -> str:
        return self.name.split()[-1]

    @property
    def office(self) -> str:
        return f"{BUILDINGS[self.building].name}, room {self.room}"

    @property
    def href(self) -> str:
        return f"/faculty/{self.key}.html"


PEOPLE = {
    p.key: p
    for p in [
        Person(
            "amara-okafor",
            "Professor Amara Okafor",
            "Professor and Chair of Software Engineering",
            "Software Engineering",
            "calder",
            "312",
            "a.okafor@northbridge.example",
            "4312",
            "distributed systems, consensus protocols and fault-tolerant storage",
            True,
            "PhD in Computer Science, University of Eastvale, 2006",
            2010,
            "Tuesdays and Thursdays, 14:00 to 15:30",
        ),
        Person(
            "helena-marsh",
            "Professor Helena Marsh",
            "Professor and Chair of Mechanical Engineering",
            "Mechanical Engineering",
            "hale",
            "310",
            "h.marsh@northbridge.example",
            "3310",
            "legged robots, feedback control and soft actuators",
            True,
            "PhD in Mechanical Engineering, Kestrel Polytechnic University, 2004",
            2008,
            "Mondays and Wednesdays, 10:00 to 11:30",
        ),
        Person(
            "rafael-dominguez",
            "Professor Rafael Dominguez",
            "Professor and Chair of Electrical Engineering",
            "Electrical Engineering",
            "voss",
            "205",
            "r.dominguez@northbridge.example",
            "2205",
            "power electronics, microgrids and battery storage",
            True,
            "PhD in Electrical Engineering, University of Southmere, 2003",
            2009,
            "Wednesdays, 13:00 to 15:00",
        ),
        Person(
            "ingrid-solberg",
            "Professor Ingrid Solberg",
            "Professor and Chair of Civil Engineering",
            "Civil Engineering",
            "marlowe",
            "301",
            "i.solberg@northbridge.example",
            "5301",
            "timber structures, seismic design and bridge monitoring",
            True,
            "PhD in Structural Engineering, Nordhaven Technical University, 2001",
            2006,
            "Tuesdays, 09:00 to 11:00",
        ),
        Person(
            "naomi-whitfield",
            "Professor Naomi Whitfield",
            "Professor and Chair of Biomedical Engineering",
            "Biomedical Engineering",
            "linden",
            "305",
            "n.whitfield@northbridge.example",
            "6305",
            "medical imaging, low-field MRI and image reconstruction",
            True,
            "PhD in Bioengineering, University of Eastvale, 2007",
            2012,
            "Thursdays, 10:00 to 12:00",
        ),
        Person(
            "samuel-adeyemi",
            "Dr. Samuel Adeyemi",
            "Assistant Professor of Software Engineering",
            "Software Engineering",
            "calder",
            "318",
            "s.adeyemi@northbridge.example",
            "4318",
            "machine learning systems, efficient model training and language models for technical documents",
            True,
            "PhD in Computer Science, Kestrel Polytechnic University, 2019",
            2021,
            "Mondays and Fridays, 11:00 to 12:00",
        ),
        Person(
            "priya-raman",
            "Dr. Priya Raman",
            "Associate Professor of Electrical Engineering",
            "Electrical Engineering",
            "voss",
            "214",
            "p.raman@northbridge.example",
            "2214",
            "signal processing and embedded sensing",
        ),
        Person(
            "lena-hartmann",
            "Dr. Lena Hartmann",
            "Associate Professor of Mechanical Engineering",
            "Mechanical Engineering",
            "hale",
            "322",
            "l.hartmann@northbridge.example",
            "3322",
            "thermofluids and heat transfer",
        ),
        Person(
            "jonah-whitcombe",
            "Professor Jonah Whitcombe",
            "Professor of Civil Engineering",
            "Civil Engineering",
            "marlowe",
            "310",
            "j.whitcombe@northbridge.example",
            "5310",
            "geotechnical engineering and foundations",
        ),
        Person(
            "kwame-mensah",
            "Dr. Kwame Mensah",
            "Associate Professor of Biomedical Engineering",
            "Biomedical Engineering",
            "linden",
            "312",
            "k.mensah@northbridge.example",
            "6312",
            "biomechanics and tissue mechanics",
        ),
        Person(
            "sofia-lindqvist",
            "Dr. Sofia Lindqvist",
            "Senior Lecturer in Software Engineering",
            "Software Engineering",
            "calder",
            "120",
            "s.lindqvist@northbridge.example",
            "4120",
            "programming education and human-computer interaction",
        ),
        Person(
            "elias-varga",
            "Dr. Elias Varga",
            "Senior Lecturer in Mathematics",
            "Mathematics",
            "brennan",
            "215",
            "e.varga@northbridge.example",
            "1215",
            "numerical analysis and engineering mathematics",
        ),
    ]
}


@dataclass(frozen=True)
class Lab:
    key: str
    name: str
    director: str
    building: str
    room: str
    founded: int
    focus: str
    equipment: str
    page: bool = False

    @property
    def location(self) -> str:
        return f"{BUILDINGS[self.building].name}, room {self.room}"

    @property
    def href(self) -> str:
        return f"/research/{self.key}.html" if self.page else f"/research/index.html#{self.key}"


LABS = {
    lab.key: lab
    for lab in [
        Lab(
            "robotics-lab",
            "Robotics Lab",
            "helena-marsh",
            "hale",
            "204",
            1997,
            "legged locomotion, robot control and soft actuators",
            "a 16-camera motion capture system, a 40-metre outdoor test track and the Heron-4 quadruped robot",
            True,
        ),
        Lab(
            "power-systems-lab",
            "Power Systems Lab",
            "rafael-dominguez",
            "voss",
            "118",
            2009,
            "power electronics, microgrids and grid-scale battery storage",
            "a 250-kilowatt microgrid testbed and a real-time grid simulator",
        ),
        Lab(
            "structures-lab",
            "Structures and Materials Lab",
            "ingrid-solberg",
            "marlowe",
            "015",
            1962,
            "timber and concrete structures, seismic design and structural health monitoring",
            "a 12-metre by 8-metre strong floor and a 2,000-kilonewton hydraulic actuator",
        ),
        Lab(
            "distributed-systems-lab",
            "Distributed Systems Lab",
            "amara-okafor",
            "calder",
            "240",
            2011,
            "consensus protocols, fault-tolerant storage and large-scale data processing",
            "Tern, a 96-node research computing cluster",
            True,
        ),
        Lab(
            "medical-imaging-lab",
            "Medical Imaging Lab",
            "naomi-whitfield",
            "linden",
            "221",
            2018,
            "low-field magnetic resonance imaging, ultrasound and image reconstruction",
            "a 0.5-tesla research MRI scanner and a tissue-mimicking phantom workshop",
            True,
        ),
        Lab(
            "embedded-lab",
            "Signal Processing and Embedded Systems Lab",
            "priya-raman",
            "voss",
            "230",
            2014,
            "low-power sensing, audio signal processing and embedded machine learning",
            "an anechoic chamber and forty reconfigurable sensor boards",
        ),
        Lab(
            "ml-group",
            "Applied Machine Learning Group",
            "samuel-adeyemi",
            "calder",
            "244",
            2021,
            "efficient model training and language models for engineering documents",
            "a shared server with eight GPUs",
        ),
    ]
}


@dataclass(frozen=True)
class Course:
    code: str
    title: str
    credits: int
    prereqs: tuple[str, ...]
    instructor: str
    term: str
    schedule: str
    building: str
    room: str
    program: str  # program key that owns the course
    covers: str
    description: str
    weeks: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    assessment: tuple[tuple[str, int], ...] = ()
    page: bool = True

    @property
    def slug(self) -> str:
        return self.code.lower().replace(" ", "")

    @property
    def href(self) -> str:
        return f"/courses/{self.slug}.html"

    @property
    def full(self) -> str:
        return f"{self.code} {self.title}"


def _c(*args, **kwargs) -> Course:
    return Course(*args, **kwargs)


COURSES = {
    c.code: c
    for c in [
        _c(
            "MATH 120",
            "Calculus for Engineers",
            4,
            (),
            "elias-varga",
            "fall and spring",
            "Monday, Wednesday and Friday, 09:00 to 09:50",
            "brennan",
            "210",
            "core",
            "limits, derivatives, integrals, series and an introduction to differential equations",
            "MATH 120 Calculus for Engineers is the first mathematics course that every Northbridge engineering student takes. "
            "The course develops calculus through engineering examples: the velocity of a piston, the deflection of a beam and the charge on a capacitor. "
            "Weekly problem sessions are led by graduate teaching assistants.",
            (
                "Limits and continuity",
                "Derivatives and the chain rule",
                "Optimisation and related rates",
                "Definite integrals and the fundamental theorem",
                "Techniques of integration",
                "Sequences and series",
                "First-order differential equations",
            ),
            (
                "Compute derivatives and integrals of elementary functions",
                "Model simple physical systems with differential equations",
                "Use series approximations and estimate their error",
            ),
            (("Weekly problem sets", 20), ("Two midterm examinations", 40), ("Final examination", 40)),
        ),
        _c(
            "MATH 220",
            "Linear Algebra and Probability",
            4,
            ("MATH 120",),
            "elias-varga",
            "spring",
            "Tuesday and Thursday, 10:00 to 11:50",
            "brennan",
            "210",
            "core",
            "vectors, matrices, eigenvalues, probability distributions and basic statistics",
            "MATH 220 Linear Algebra and Probability prepares students for signals, control, structures and machine learning courses. "
            "The first half of the course treats vectors, matrices and eigenvalues through examples such as vibrating structures and electrical networks. "
            "The second half introduces probability, random variables and basic statistics with data from laboratory measurements.",
            (
                "Vectors and linear systems",
                "Matrices and Gaussian elimination",
                "Vector spaces and least squares",
                "Eigenvalues and eigenvectors",
                "Probability and random variables",
                "Common distributions",
                "Estimation and confidence intervals",
            ),
            (
                "Solve linear systems and least-squares problems",
                "Use eigenvalues to analyse linear models",
                "Describe measurement data with probability distributions",
            ),
            (("Weekly problem sets", 20), ("Midterm examination", 35), ("Final examination", 45)),
        ),
        _c(
            "CS 110",
            "Introduction to Programming",
            4,
            (),
            "sofia-lindqvist",
            "fall",
            "Monday and Wednesday, 13:00 to 14:50",
            "calder",
            "101",
            "software",
            "variables, control flow, functions, lists, dictionaries, files and testing in Python",
            "CS 110 Introduction to Programming teaches programming from first principles in Python and is open to students of every department. "
            "Students write a small program every week and finish the term with a team project, such as a timetable planner or a sensor-data dashboard. "
            "No previous programming experience is expected.",
            (
                "Expressions, variables and types",
                "Conditionals and loops",
                "Functions and decomposition",
                "Lists, dictionaries and sets",
                "Reading and writing files",
                "Testing and debugging",
                "Team project",
            ),
            (
                "Write, test and debug Python programs of a few hundred lines",
                "Choose suitable built-in data structures",
                "Work in a small team with version control",
            ),
            (
                ("Weekly programming exercises", 30),
                ("Midterm examination", 20),
                ("Team project", 25),
                ("Final examination", 25),
            ),
        ),
        _c(
            "CS 210",
            "Data Structures",
            4,
            ("CS 110",),
            "amara-okafor",
            "spring",
            "Tuesday and Thursday, 13:00 to 14:50",
            "calder",
            "101",
            "software",
            "arrays, linked lists, hash tables, trees, heaps and graphs, and the analysis of their running time",
            "CS 210 Data Structures is where Northbridge students learn to reason about the cost of a program before they run it. "
            "Every data structure is implemented from scratch, measured on real inputs and compared with its theoretical running time. "
            "The course ends with a graph-search project on the Port Alder tram network.",
            (
                "Asymptotic analysis",
                "Dynamic arrays and linked lists",
                "Stacks and queues",
                "Hash tables",
                "Binary search trees and balanced trees",
                "Heaps and priority queues",
                "Graphs, breadth-first and depth-first search",
                "Shortest paths",
            ),
            (
                "Implement the standard data structures and explain their invariants",
                "Analyse the running time and memory use of an algorithm",
                "Choose a data structure that fits a problem",
            ),
            (("Programming assignments", 40), ("Midterm examination", 25), ("Final examination", 35)),
        ),
        _c(
            "CS 320",
            "Machine Learning Systems",
            3,
            ("CS 210", "MATH 220"),
            "samuel-adeyemi",
            "spring",
            "Monday and Wednesday, 15:00 to 16:20",
            "calder",
            "205",
            "software",
            "supervised learning, neural networks, training pipelines, evaluation and deploying models",
            "CS 320 Machine Learning Systems treats a machine learning model as one part of a larger engineering system. "
            "Students collect and clean a data set, train and evaluate models, and deploy the best one behind a small web service. "
            "A recurring theme of the course is honest evaluation: a model is only as good as the held-out data it is measured on.",
            (
                "Linear models and gradient descent",
                "Neural networks",
                "Data collection and cleaning",
                "Training pipelines",
                "Evaluation and held-out data",
                "Fine-tuning pretrained models",
                "Serving and monitoring models",
            ),
            (
                "Build a reproducible training pipeline",
                "Evaluate a model on held-out data and report its limits",
                "Deploy and monitor a model in a small service",
            ),
            (("Labs", 30), ("Course project", 40), ("Final examination", 30)),
        ),
        _c(
            "CS 340",
            "Distributed Systems",
            4,
            ("CS 210",),
            "amara-okafor",
            "fall",
            "Tuesday and Thursday, 09:00 to 10:50",
            "calder",
            "205",
            "software",
            "remote procedure calls, replication, consensus, consistency models and fault tolerance",
            "CS 340 Distributed Systems explains how many computers can behave like one reliable computer. "
            "Students build a replicated key-value store in four stages and test it against injected network failures on the Tern cluster of the Distributed Systems Lab. "
            "The course is a core requirement of the BSc in Software Engineering.",
            (
                "Remote procedure calls",
                "Time, clocks and ordering",
                "Replication",
                "The Raft consensus protocol",
                "Consistency models",
                "Fault injection and testing",
                "Case studies of large storage systems",
            ),
            (
                "Explain the trade-offs between consistency, availability and latency",
                "Implement a replicated service that survives failures",
                "Test distributed programs with fault injection",
            ),
            (("Key-value store project", 50), ("Midterm examination", 20), ("Final examination", 30)),
        ),
        _c(
            "ME 201",
            "Statics and Dynamics",
            3,
            ("MATH 120",),
            "lena-hartmann",
            "fall",
            "Monday, Wednesday and Friday, 11:00 to 11:50",
            "hale",
            "110",
            "mechanical",
            "forces, moments, equilibrium, friction, kinematics and the dynamics of particles and rigid bodies",
            "ME 201 Statics and Dynamics is the foundation of mechanical, civil and biomedical engineering at Northbridge. "
            "Students analyse trusses, frames and machines at rest, then move on to the motion of particles and rigid bodies. "
            "Demonstrations in Hale Hall use a restored 1904 steam-engine governor from the original workshop.",
            (
                "Vectors and forces",
                "Equilibrium of particles and rigid bodies",
                "Trusses and frames",
                "Friction",
                "Kinematics of particles",
                "Newton's laws and energy methods",
                "Rigid-body dynamics",
            ),
            (
                "Draw free-body diagrams and solve equilibrium problems",
                "Analyse the motion of particles and rigid bodies",
                "Apply energy and momentum methods",
            ),
            (("Homework", 20), ("Two midterm examinations", 40), ("Final examination", 40)),
        ),
        _c(
            "ME 350",
            "Robotics and Control",
            4,
            ("ME 201", "EE 220"),
            "helena-marsh",
            "spring",
            "Tuesday and Thursday, 11:00 to 12:50",
            "hale",
            "204",
            "mechanical",
            "robot kinematics, feedback control, sensors, actuators and motion planning",
            "ME 350 Robotics and Control is taught in the Robotics Lab and combines lectures with weekly hands-on sessions. "
            "Teams of three design a controller for a two-wheeled balancing robot and then program a robot arm to sort parts. "
            "The best teams are invited to join the Heron-4 quadruped project.",
            (
                "Rigid-body transformations",
                "Forward and inverse kinematics",
                "Sensors and actuators",
                "PID control",
                "State-space control",
                "Motion planning",
                "Balancing-robot project",
            ),
            (
                "Model the kinematics of a robot arm",
                "Design and tune feedback controllers",
                "Integrate sensors and actuators on a real robot",
            ),
            (("Lab sessions", 30), ("Balancing-robot project", 30), ("Final examination", 40)),
        ),
        _c(
            "EE 220",
            "Circuit Analysis",
            4,
            ("MATH 120",),
            "rafael-dominguez",
            "fall",
            "Monday and Wednesday, 09:00 to 10:50",
            "voss",
            "101",
            "electrical",
            "Ohm's law, Kirchhoff's laws, network theorems, transient response and alternating-current circuits",
            "EE 220 Circuit Analysis is the first course in the electrical engineering sequence and a prerequisite for many courses in other departments. "
            "Lectures are paired with a weekly three-hour laboratory in which students build and measure the circuits they analyse. "
            "Students keep a laboratory notebook that is graded twice a term.",
            (
                "Circuit variables and elements",
                "Kirchhoff's laws",
                "Nodal and mesh analysis",
                "Thevenin and Norton equivalents",
                "Capacitors, inductors and transients",
                "Sinusoidal steady state",
                "Power in alternating-current circuits",
            ),
            (
                "Analyse linear circuits with nodal and mesh methods",
                "Predict and measure transient responses",
                "Use laboratory instruments safely and accurately",
            ),
            (("Laboratory notebook", 25), ("Midterm examination", 30), ("Final examination", 45)),
        ),
        _c(
            "EE 310",
            "Signals and Systems",
            3,
            ("EE 220", "MATH 220"),
            "priya-raman",
            "spring",
            "Tuesday and Thursday, 14:00 to 15:20",
            "voss",
            "120",
            "electrical",
            "continuous and discrete signals, convolution, Fourier and Laplace transforms, sampling and filtering",
            "EE 310 Signals and Systems gives engineers a common language for audio, images, communication links and control loops. "
            "Python notebooks are used to filter real recordings made in the anechoic chamber of the Signal Processing and Embedded Systems Lab. "
            "The course is required in both electrical and biomedical engineering.",
            (
                "Signals and their properties",
                "Linear time-invariant systems",
                "Convolution",
                "Fourier series and transform",
                "Laplace transform",
                "Sampling",
                "Digital filters",
            ),
            (
                "Represent signals in the time and frequency domains",
                "Analyse linear time-invariant systems",
                "Design simple digital filters",
            ),
            (("Notebook assignments", 30), ("Midterm examination", 30), ("Final examination", 40)),
        ),
        _c(
            "EE 410",
            "Power Electronics",
            3,
            ("EE 310",),
            "rafael-dominguez",
            "fall",
            "Monday and Wednesday, 14:00 to 15:20",
            "voss",
            "118",
            "electrical",
            "switching converters, inverters, motor drives and the control of power converters",
            "EE 410 Power Electronics is an elective in the BSc in Electrical Engineering that uses the microgrid testbed of the Power Systems Lab. "
            "Students design, simulate and build a small solar charge controller and measure its efficiency on the testbed. "
            "The course prepares students for careers in renewable energy, electric vehicles and industrial drives.",
            (
                "Power semiconductor switches",
                "DC-DC converters",
                "Inverters",
                "Rectifiers",
                "Magnetic components",
                "Control of converters",
                "Motor drives and grid connection",
            ),
            (
                "Analyse and design switching power converters",
                "Simulate converters and their control loops",
                "Build and measure a converter safely in the laboratory",
            ),
            (("Laboratory projects", 40), ("Midterm examination", 25), ("Final examination", 35)),
        ),
        _c(
            "CE 230",
            "Structural Analysis",
            4,
            ("ME 201",),
            "ingrid-solberg",
            "spring",
            "Monday and Wednesday, 13:00 to 14:50",
            "marlowe",
            "115",
            "civil",
            "loads, determinate and indeterminate structures, influence lines and the stiffness method",
            "CE 230 Structural Analysis teaches students to predict how beams, trusses and frames carry load. "
            "Classical hand methods are taught side by side with the matrix stiffness method that structural software uses. "
            "In the last weeks students test a timber beam to failure on the strong floor of the Structures and Materials Lab.",
            (
                "Loads and load paths",
                "Determinate beams and trusses",
                "Deflections",
                "Influence lines",
                "Force method",
                "Matrix stiffness method",
                "Timber beam test",
            ),
            (
                "Compute internal forces and deflections in structures",
                "Apply the matrix stiffness method",
                "Compare predicted and measured structural behaviour",
            ),
            (("Homework", 20), ("Beam test report", 20), ("Midterm examination", 25), ("Final examination", 35)),
        ),
        _c(
            "CE 360",
            "Geotechnical Engineering",
            3,
            ("CE 230",),
            "jonah-whitcombe",
            "fall",
            "Tuesday and Thursday, 09:00 to 10:20",
            "marlowe",
            "115",
            "civil",
            "soil classification, consolidation, shear strength, slopes and foundations",
            "CE 360 Geotechnical Engineering is about the soils that every structure finally rests on. "
            "Students classify soils in the laboratory, run consolidation and shear tests, and spend two Saturdays on field work along the Lake Veyra shoreline. "
            "The course ends with the design of the foundations for a small building on the campus.",
            (
                "Soil formation and classification",
                "Compaction",
                "Water flow through soils",
                "Consolidation and settlement",
                "Shear strength",
                "Slope stability",
                "Shallow and deep foundations",
            ),
            (
                "Classify soils and interpret laboratory tests",
                "Predict the settlement of a foundation",
                "Design simple foundations and check slope stability",
            ),
            (
                ("Laboratory reports", 25),
                ("Field work report", 15),
                ("Midterm examination", 25),
                ("Final examination", 35),
            ),
        ),
        _c(
            "BME 250",
            "Biomechanics",
            3,
            ("ME 201",),
            "kwame-mensah",
            "fall",
            "Tuesday and Thursday, 11:00 to 12:20",
            "linden",
            "110",
            "biomedical",
            "the mechanics of bones, muscles, joints and soft tissues, and human movement",
            "BME 250 Biomechanics applies statics, dynamics and the mechanics of materials to the human body. "
            "Students record their own gait with force plates and wearable sensors and compare the measured joint loads with a simple model. "
            "Guest lectures are given by orthopaedic surgeons from Port Alder General Hospital.",
            (
                "Mechanics of materials review",
                "Bone and cartilage",
                "Muscle mechanics",
                "Joint loading",
                "Gait analysis",
                "Soft tissue viscoelasticity",
                "Implants and prostheses",
            ),
            (
                "Model the loads on human joints",
                "Measure and analyse human movement",
                "Relate tissue structure to mechanical function",
            ),
            (("Gait laboratory report", 25), ("Midterm examination", 30), ("Final examination", 45)),
        ),
        _c(
            "BME 380",
            "Medical Imaging",
            4,
            ("EE 310",),
            "naomi-whitfield",
            "spring",
            "Monday and Wednesday, 10:00 to 11:50",
            "linden",
            "221",
            "biomedical",
            "X-ray, computed tomography, ultrasound, magnetic resonance imaging and image reconstruction",
            "BME 380 Medical Imaging explains how each imaging method turns a physical measurement into a picture of the body. "
            "Students reconstruct images from raw scanner data and scan phantoms on the 0.5-tesla research MRI scanner of the Medical Imaging Lab. "
            "The course closes with a discussion of image quality, radiation dose and patient safety.",
            (
                "Image formation and quality",
                "X-ray and computed tomography",
                "Ultrasound",
                "Physics of magnetic resonance",
                "MRI reconstruction",
                "Image processing",
                "Safety and regulation",
            ),
            (
                "Explain the physics of the main imaging methods",
                "Reconstruct images from raw data",
                "Assess image quality and safety trade-offs",
            ),
            (("Reconstruction assignments", 30), ("Scanner laboratory report", 20), ("Final examination", 50)),
        ),
    ]
}


@dataclass(frozen=True)
class Program:
    key: str
    name: str  # "Mechanical Engineering"
    department_founded: int
    building: str
    chair: str
    bsc_credits: int
    overview: str
    bsc_includes: str
    concentrations: tuple[str, ...]
    labs: tuple[str, ...]
    courses: tuple[str, ...]
    years: tuple[tuple[str, str], ...]  # (year, courses in that year)
    careers: str
    employers: str
    employment_rate: int
    median_salary: str
    highlight: str
    msc_thesis: str

    @property
    def href(self) -> str:
        return f"/programs/{self.key}.html"

    @property
    def bsc(self) -> str:
        return f"BSc in {self.name}"

    @property
    def msc(self) -> str:
        return f"MSc in {self.name}"


PROGRAMS = {
    p.key: p
    for p in [
        Program(
            "mechanical-engineering",
            "Mechanical Engineering",
            1891,
            "hale",
            "helena-marsh",
            128,
            "Mechanical engineering is the oldest discipline at Northbridge: the school opened in 1891 with a workshop, a drawing office and a class of twenty-two apprentices. "
            "Today the department teaches the design, analysis and manufacture of machines, from engines and turbines to robots and medical devices.",
            "a two-semester senior design project with an industry partner",
            ("Robotics and Control", "Thermofluids and Energy", "Design and Manufacturing"),
            ("robotics-lab",),
            ("MATH 120", "ME 201", "EE 220", "ME 350"),
            (
                ("Year 1", "MATH 120, CS 110, physics, chemistry, engineering drawing"),
                ("Year 2", "ME 201, MATH 220, EE 220, mechanics of materials, thermodynamics"),
                ("Year 3", "ME 350, fluid mechanics, heat transfer, machine design, manufacturing processes"),
                ("Year 4", "senior design project, concentration electives, professional practice"),
            ),
            "product design, energy, automotive and marine engineering, robotics and manufacturing",
            "Alder Marine Systems, Veyra Power and Harbourline Robotics",
            94,
            "$71,000",
            "The Formula Student team Northbridge Racing builds its car in the Hale Hall workshop every year.",
            "a 12-credit research thesis supervised by a member of the department",
        ),
        Program(
            "electrical-engineering",
            "Electrical Engineering",
            1911,
            "voss",
            "rafael-dominguez",
            128,
            "The Department of Electrical Engineering grew out of a single course on dynamos taught in 1905 and became a department of its own in 1911. "
            "The department teaches circuits, electronics, signals, communications and power, and its graduates design the hardware behind energy grids, phones and medical instruments.",
            "a senior capstone in which each team designs, builds and tests an electronic product",
            ("Power and Energy Systems", "Signal Processing and Communications", "Embedded Systems"),
            ("power-systems-lab", "embedded-lab"),
            ("MATH 120", "EE 220", "EE 310", "EE 410"),
            (
                ("Year 1", "MATH 120, CS 110, physics, introduction to electrical engineering"),
                ("Year 2", "EE 220, MATH 220, digital logic, electronics I"),
                ("Year 3", "EE 310, electromagnetics, electronics II, microcontrollers"),
                ("Year 4", "senior capstone, EE 410 or another concentration elective, professional practice"),
            ),
            "power and energy, electronics design, telecommunications and embedded systems",
            "Veyra Power, Lakeshore Telecom and Meridian Instruments",
            95,
            "$74,000",
            "Students in the department run the campus radio station, Northbridge 88.4, from the top floor of Voss Hall.",
            "a 12-credit research thesis in one of the department's laboratories",
        ),
        Program(
            "civil-engineering",
            "Civil Engineering",
            1897,
            "marlowe",
            "ingrid-solberg",
            132,
            "The Department of Civil Engineering was created in 1897 to train the engineers who built the harbour, bridges and tramways of Port Alder. "
            "The department teaches structural, geotechnical, water and transportation engineering with a strong emphasis on field work and sustainable materials.",
            "a summer surveying camp and a senior design project on a real site in the Lake Veyra region",
            ("Structural Engineering", "Geotechnical Engineering", "Water Resources and Environment"),
            ("structures-lab",),
            ("MATH 120", "ME 201", "CE 230", "CE 360"),
            (
                ("Year 1", "MATH 120, CS 110, physics, chemistry, engineering graphics"),
                ("Year 2", "ME 201, MATH 220, mechanics of materials, surveying camp"),
                ("Year 3", "CE 230, CE 360, hydraulics, construction materials"),
                ("Year 4", "senior design project, steel and timber design, transportation engineering"),
            ),
            "structural design, construction management, geotechnical consulting and public infrastructure",
            "Port Alder Transit Authority, Marlowe and Keane Consulting Engineers and Westmarch Water",
            93,
            "$68,000",
            "The department's concrete canoe team has reached the regional final in each of the last six years.",
            "a 12-credit thesis, often carried out with the Structures and Materials Lab",
        ),
        Program(
            "software-engineering",
            "Software Engineering",
            1984,
            "calder",
            "amara-okafor",
            124,
            "The Department of Software Engineering was established in 1984, when the institute's first computing courses outgrew the mathematics department. "
            "The department teaches how to design, build, test and operate reliable software systems, from embedded code to distributed services and machine learning systems.",
            "a year-long studio project in which teams build software for a real client",
            ("Distributed Systems", "Machine Learning Systems", "Human-Computer Interaction"),
            ("distributed-systems-lab", "ml-group"),
            ("CS 110", "CS 210", "CS 320", "CS 340"),
            (
                ("Year 1", "CS 110, MATH 120, discrete mathematics, introduction to computer systems"),
                ("Year 2", "CS 210, MATH 220, software design, databases"),
                ("Year 3", "CS 320, CS 340, operating systems, software testing"),
                ("Year 4", "studio project, concentration electives, professional ethics"),
            ),
            "software development, site reliability, data engineering and machine learning engineering",
            "Tern Data Systems, Lakeshore Telecom and Port Alder Health Network",
            96,
            "$82,000",
            "The Heron Hackathon, a 36-hour programming event held every March in Calder Computing Center, is organised by software engineering students.",
            "a 12-credit research thesis or a 12-credit industry project",
        ),
        Program(
            "biomedical-engineering",
            "Biomedical Engineering",
            2002,
            "linden",
            "naomi-whitfield",
            128,
            "The Department of Biomedical Engineering was founded in 2002 as a joint effort of the mechanical and electrical engineering departments and Port Alder General Hospital. "
            "The department applies engineering to medicine: imaging, biomechanics, medical devices and tissue engineering.",
            "a clinical immersion semester at Port Alder General Hospital",
            ("Medical Imaging", "Biomechanics and Rehabilitation", "Medical Devices"),
            ("medical-imaging-lab",),
            ("MATH 120", "ME 201", "BME 250", "EE 310", "BME 380"),
            (
                ("Year 1", "MATH 120, CS 110, biology, chemistry, physics"),
                ("Year 2", "ME 201, EE 220, MATH 220, physiology for engineers"),
                ("Year 3", "BME 250, EE 310, BME 380, biomaterials"),
                ("Year 4", "clinical immersion semester, senior design project, regulatory affairs"),
            ),
            "medical devices, imaging, rehabilitation engineering and hospital technology",
            "Meridian Instruments, Port Alder General Hospital and Linden Orthopaedics",
            92,
            "$70,000",
            "The Linden Biomedical Pavilion is connected to Port Alder General Hospital by a covered walkway.",
            "a 12-credit thesis supervised jointly with a clinician from Port Alder General Hospital",
        ),
    ]
}


@dataclass(frozen=True)
class Scholarship:
    name: str
    amount: str
    awards: str
    who: str
    criteria: str


SCHOLARSHIPS = [
    Scholarship(
        "Hale Founders Scholarship",
        "full tuition",
        "ten new awards each year",
        "first-year undergraduates",
        "academic merit, an interview and a design portfolio; it is renewable for four years with a GPA of 3.3 or higher",
    ),
    Scholarship(
        "Meridian Merit Award",
        "$8,000 per year",
        "about eighty awards each year",
        "first-year undergraduates",
        "academic merit; every applicant is considered automatically",
    ),
    Scholarship(
        "Brennan Access Grant",
        "up to $12,000 per year",
        "one for every eligible student",
        "undergraduates with financial need",
        "the Northbridge Financial Aid Form, which is due on March 1",
    ),
    Scholarship(
        "International Excellence Scholarship",
        "$10,000 per year",
        "twenty-five new awards each year",
        "international undergraduates",
        "academic merit; it is renewable for four years",
    ),
    Scholarship(
        "Lakeshore Community Scholarship",
        "$5,000 per year",
        "thirty awards each year",
        "undergraduates who graduated from a secondary school in Port Alder",
        "residence and a short essay about the applicant's community",
    ),
    Scholarship(
        "Graduate Research Assistantship",
        "a full tuition waiver and a stipend of $2,400 per month",
        "about ninety positions each year",
        "MSc students on the thesis track",
        "research fit with a supervising professor; apply by the graduate priority deadline of February 1",
    ),
]


@dataclass(frozen=True)
class Residence:
    name: str
    opened: int
    beds: int
    who: str
    rooms: str
    price: str
    notes: str


RESIDENCES = [
    Residence(
        "North Court",
        1962,
        420,
        "first-year students",
        "double rooms with shared bathrooms on each floor",
        "$7,900",
        "North Court is closest to Quarry Commons and has a resident advisor on every floor.",
    ),
    Residence(
        "Willow House",
        1988,
        260,
        "second-year and third-year students",
        "four-person apartments with a kitchen",
        "$8,600",
        "Willow House overlooks the Lake Veyra shoreline and has a bicycle workshop in the basement.",
    ),
    Residence(
        "Meridian Tower",
        2021,
        380,
        "fourth-year and graduate students",
        "single studios with a private bathroom",
        "$10,400",
        "Meridian Tower was designed by Northbridge alumni and has a rooftop study lounge.",
    ),
]


@dataclass(frozen=True)
class NewsItem:
    key: str
    date: str
    title: str
    summary: str
    paragraphs: tuple[str, ...] = field(default_factory=tuple)

    @property
    def href(self) -> str:
        return f"/news/{self.key}.html"
