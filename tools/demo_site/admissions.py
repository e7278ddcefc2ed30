"""Admissions pages: overview, requirements, deadlines, tuition and fees, scholarships, international students, FAQ."""

from __future__ import annotations

import data as d
from helpers import ADMISSIONS_SIDEBAR, a, course, faq, h2, h3, ol, p, table, ul

CRUMB = (("/admissions/index.html", "Admissions"),)


def index(Page):
    body = "\n".join(
        [
            "<h1>Admissions</h1>",
            p(
                f"{d.SCHOOL} admits about 900 first-year students and 550 graduate students each year.",
                "The Admissions Office is located in Brennan Hall, room 101, and is open Monday to Friday from 09:00 to 17:00.",
                f"Applications for {d.ENTRY} entry are open now.",
            ),
            h2("Applying as a first-year student"),
            p(
                "First-year applicants apply to the institute as a whole and name an intended major.",
                f"First-year applicants choose between two rounds: Early Action, with a deadline of {d.EARLY_ACTION} and decisions on {d.EARLY_ACTION_DECISION}, "
                f"and Regular Decision, with a deadline of {d.REGULAR_DECISION} and decisions on {d.REGULAR_DECISION_RELEASE}.",
                f"The Undergraduate Application Fee is a non-refundable {d.APPLICATION_FEE}, and fee waivers are available to applicants with financial need.",
            ),
            h2("Applying to an MSc program"),
            p(
                "Graduate applicants apply directly to one MSc program.",
                f"Applications complete by {d.GRAD_PRIORITY} are considered for Graduate Research Assistantships.",
                f"The last day to apply is {d.GRAD_FINAL} for domestic applicants and {d.GRAD_INTL_FINAL} for international applicants.",
                f"The Graduate Application Fee is a non-refundable {d.GRAD_APPLICATION_FEE}.",
            ),
            h2("Transfer students"),
            p(
                "Transfer students may enter in the fall or the spring semester.",
                f"Transfer applications for the spring semester are due on {d.TRANSFER_SPRING} and for the fall semester on March 1.",
                "Courses passed with a grade of C or better at an accredited institution may transfer, up to a maximum of 64 credits.",
            ),
            h2("At a glance"),
            table(
                ["Item", f"{d.ENTRY}"],
                [
                    ("Early action deadline", d.EARLY_ACTION),
                    ("Regular decision deadline", d.REGULAR_DECISION),
                    ("Graduate priority deadline", d.GRAD_PRIORITY),
                    ("Scholarship deadline", d.SCHOLARSHIP_DEADLINE),
                    ("Enrollment deposit due", d.DEPOSIT_DEADLINE),
                    ("Undergraduate tuition", f"{d.UG_TUITION} per year"),
                    ("Graduate tuition", f"{d.GRAD_PER_CREDIT} per credit"),
                    ("Application fee", f"{d.APPLICATION_FEE} (graduate {d.GRAD_APPLICATION_FEE})"),
                ],
            ),
            h2("What we look for"),
            p(
                "The Admissions Committee reads every application as a whole.",
                "Strong applicants show solid preparation in mathematics and science, curiosity about how things work and evidence of having built or fixed something on their own.",
                "The committee also values persistence, teamwork and service to a community, and it considers each applicant's context, such as the courses their school offers.",
            ),
            p(
                "In 2025 Northbridge received 9,400 first-year applications and admitted 34 percent of applicants.",
                "The entering class came from 41 countries, and 29 percent of its students were the first in their family to attend university.",
            ),
            h2("Visit us"),
            p(
                "Campus tours leave from the Admissions Office in Brennan Hall at 10:00 and 14:00 on weekdays and at 11:00 on Saturdays.",
                "The Northbridge Open Day is a full day of lectures, lab visits and tours held on the third Saturday of October.",
                "Online information sessions are held every Wednesday evening.",
            ),
            h2("Next steps"),
            ul(
                [
                    a("/admissions/requirements.html", "Check the admission requirements"),
                    a("/admissions/deadlines.html", "Note the deadlines"),
                    a("/admissions/tuition-and-fees.html", "Plan for tuition and fees"),
                    a("/admissions/scholarships.html", "Apply for scholarships"),
                    a("/admissions/international-students.html", "Information for international students"),
                    a("/admissions/faq.html", "Read the admissions FAQ"),
                    a(
                        "https://apply.example.com/northbridge",
                        "Start your application on the Common Engineering Application",
                    ),
                ]
            ),
        ]
    )
    return Page("admissions/index.html", "Admissions", f"How to apply to {d.SCHOOL}.", (), body, ADMISSIONS_SIDEBAR)


def requirements(Page):
    body = "\n".join(
        [
            "<h1>Admission requirements</h1>",
            p(
                "This page lists what the Admissions Committee needs from first-year, transfer and graduate applicants.",
                "Every application is read in full by at least two members of the committee.",
            ),
            h2("First-year applicants", "first-year"),
            p(
                "The Northbridge first-year application requires a secondary school diploma or its equivalent, a transcript, a personal essay and one letter of recommendation."
            ),
            ul(
                [
                    "Four years of mathematics, including precalculus; calculus is recommended.",
                    "One year of physics and one year of chemistry.",
                    "Four years of English or of the language of instruction of the applicant's school.",
                    "A personal essay of at most 650 words.",
                    "One letter of recommendation from a mathematics or science teacher.",
                ]
            ),
            p(
                "The Northbridge GPA minimum is a recommended 3.0 on a 4.0 scale for first-year applicants.",
                "The average admitted first-year student in 2025 had a GPA of 3.8.",
                "Northbridge is a test-optional institution: SAT and ACT scores have been optional since 2021, and applicants who do not send scores are not disadvantaged.",
            ),
            h2("Transfer applicants", "transfer"),
            p(
                "The Northbridge transfer application requires transcripts from every college attended, a personal essay and one letter of recommendation from a college instructor.",
                "Transfer applicants should have completed calculus and one semester of physics with a GPA of 3.0 or higher.",
                "The credit evaluation is a course-by-course review done by the Registrar before the applicant accepts an offer.",
            ),
            h2("Graduate applicants", "graduate"),
            p(
                "The Northbridge graduate application requires a bachelor's degree in engineering or a closely related field, transcripts, a statement of purpose, a CV and two letters of recommendation."
            ),
            ul(
                [
                    "A bachelor's degree with a GPA of 3.0 or higher on a 4.0 scale.",
                    "A statement of purpose of at most 1,000 words that names the research areas or labs of interest.",
                    "A curriculum vitae.",
                    "Two letters of recommendation, at least one from a university instructor.",
                    "The GRE is not required for any MSc program.",
                ]
            ),
            p(
                "Applicants to the MSc in Software Engineering should have passed a data structures course equivalent to",
                course("CS 210") + ".",
                "Applicants to the MSc in Biomedical Engineering should have taken at least one course in biology or physiology.",
            ),
            h2("English language requirements", "english"),
            p(
                "Applicants whose first language is not English and who did not study for at least two years in English must show English proficiency."
            ),
            table(
                ["Test", "Undergraduate minimum", "Graduate minimum"],
                [
                    ("TOEFL iBT", d.TOEFL_UG, d.TOEFL_GRAD),
                    ("IELTS Academic", d.IELTS_UG, d.IELTS_GRAD),
                    ("Duolingo English Test", d.DUOLINGO_UG, d.DUOLINGO_GRAD),
                ],
                "Minimum English test scores",
            ),
            p(
                f"The TOEFL iBT minimum is a score of {d.TOEFL_UG} for undergraduates and {d.TOEFL_GRAD} for graduate students.",
                f"The IELTS Academic minimum is a score of {d.IELTS_UG} for undergraduates and {d.IELTS_GRAD} for graduate students.",
                f"The Duolingo English Test minimum is a score of {d.DUOLINGO_UG} for undergraduates and {d.DUOLINGO_GRAD} for graduate students.",
                "Scores must be less than two years old on the application deadline.",
            ),
            h2("Optional portfolio", "portfolio"),
            p(
                "The Northbridge design portfolio is an optional part of the first-year application of up to ten pages.",
                "A portfolio can show drawings, photographs of things the applicant has built, code, or a short video of a working project, with a sentence on what the applicant did personally.",
                "The design portfolio is required only for the Hale Founders Scholarship, and it is uploaded in the applicant portal by the scholarship deadline of February 15.",
            ),
            h2("Home-schooled applicants"),
            p(
                "Home-schooled applicants follow the same process and send a description of their curriculum instead of a school transcript.",
                "The Admissions Committee may ask home-schooled applicants for one standardized test score or a short online interview.",
            ),
            h2("How decisions are made"),
            p(
                "The Admissions Committee looks for mathematical preparation, curiosity and evidence that the applicant builds things: a science fair project, a robot, a website, a repaired bicycle.",
                "Interviews are optional for most applicants and required for finalists of the Hale Founders Scholarship.",
                "Decisions are final; there is no appeal, but applicants who are not admitted may apply again the next year.",
            ),
        ]
    )
    return Page(
        "admissions/requirements.html",
        "Admission requirements",
        "What first-year, transfer and graduate applicants need.",
        CRUMB,
        body,
        ADMISSIONS_SIDEBAR,
    )


def deadlines(Page):
    rows = [
        ("Early action application (first-year)", d.EARLY_ACTION),
        ("Early action decisions released", d.EARLY_ACTION_DECISION),
        ("Regular decision application (first-year)", d.REGULAR_DECISION),
        ("Graduate priority deadline (MSc, with funding)", d.GRAD_PRIORITY),
        ("Scholarship application", d.SCHOLARSHIP_DEADLINE),
        ("Northbridge Financial Aid Form", d.FINAID_FORM_DEADLINE),
        ("Final graduate deadline, international applicants", d.GRAD_INTL_FINAL),
        ("Fall transfer application", "March 1"),
        ("Regular decisions released", d.REGULAR_DECISION_RELEASE),
        ("Final graduate deadline, domestic applicants", d.GRAD_FINAL),
        ("Enrollment deposit due", d.DEPOSIT_DEADLINE),
        ("Housing application", d.HOUSING_DEADLINE),
        ("Spring transfer application (for spring 2027)", d.TRANSFER_SPRING),
    ]
    body = "\n".join(
        [
            f"<h1>Application deadlines for {d.ENTRY}</h1>",
            p(
                "All deadlines are at 23:59 Port Alder time on the date shown.",
                "Applications submitted after a deadline are reviewed only if places remain.",
            ),
            table(["Deadline", "Date"], rows, f"Deadlines for {d.ENTRY} entry"),
            h2("First-year deadlines"),
            p(
                f"The Early Action deadline is the evening of {d.EARLY_ACTION}, and Early Action applicants hear from Northbridge on {d.EARLY_ACTION_DECISION}.",
                "Early Action is non-binding: admitted students may still compare offers from other schools until the deposit deadline.",
                f"The Regular Decision deadline is the evening of {d.REGULAR_DECISION}.",
                f"Regular Decision applicants hear from Northbridge on {d.REGULAR_DECISION_RELEASE}.",
                f"The Fall Transfer deadline is the evening of March 1, and the Spring Transfer deadline is the evening of {d.TRANSFER_SPRING}.",
            ),
            h2("Graduate deadlines"),
            p(
                f"The Graduate Priority deadline is the evening of {d.GRAD_PRIORITY}.",
                "Only applications complete by the priority deadline are considered for Graduate Research Assistantships.",
                f"The International Graduate deadline is the evening of {d.GRAD_INTL_FINAL}, six weeks before the domestic deadline, to leave time for a student visa.",
                f"The Domestic Graduate deadline is the evening of {d.GRAD_FINAL}.",
            ),
            h2("Financial deadlines"),
            p(
                f"The Scholarship Application deadline is the evening of {d.SCHOLARSHIP_DEADLINE}.",
                f"The Northbridge Financial Aid Form is the form for need-based aid and is due on {d.FINAID_FORM_DEADLINE} for students who wish to be considered for the Brennan Access Grant.",
                f"The Enrollment Deposit is a one-time payment of {d.DEPOSIT} that is due on {d.DEPOSIT_DEADLINE} and is credited toward the first semester's tuition.",
                f"The Housing Application deadline is the evening of {d.HOUSING_DEADLINE}.",
            ),
            h2("After you are admitted"),
            ol(
                [
                    f"Pay the enrollment deposit by {d.DEPOSIT_DEADLINE}.",
                    f"Apply for housing by {d.HOUSING_DEADLINE}; first-year students are guaranteed a room.",
                    "Send final transcripts by July 1.",
                    "Attend orientation, which starts on the Wednesday before the fall semester.",
                ]
            ),
            p(
                "See "
                + a("/admissions/requirements.html", "admission requirements")
                + " and "
                + a("/admissions/scholarships.html", "scholarships")
                + " for what to prepare."
            ),
        ]
    )
    return Page(
        "admissions/deadlines.html",
        "Application deadlines",
        f"Deadlines for {d.ENTRY} entry.",
        CRUMB,
        body,
        ADMISSIONS_SIDEBAR,
    )


def tuition(Page):
    body = "\n".join(
        [
            f"<h1>Tuition and fees, {d.ACADEMIC_YEAR}</h1>",
            p(
                f"This page lists tuition and fees for the {d.ACADEMIC_YEAR} academic year.",
                "Tuition is set each spring by the Board of Trustees and usually rises by two to three percent a year.",
            ),
            h2("Undergraduate tuition"),
            p(
                f"Northbridge undergraduate tuition is a flat {d.UG_TUITION} per year for full-time students in {d.ACADEMIC_YEAR}.",
                f"The flat rate is billed as {d.UG_TUITION_SEMESTER} per semester and covers 12 to 19 credits.",
                f"International undergraduate tuition is a flat {d.UG_TUITION_INTL} per year.",
                "Part-time undergraduates pay $1,025 per credit.",
            ),
            h2("Graduate tuition"),
            p(
                f"Northbridge graduate tuition is a per-credit charge of {d.GRAD_PER_CREDIT} for every MSc program.",
                f"The 36-credit MSc therefore costs {d.GRAD_MSC_TOTAL} in tuition, usually spread over two years.",
                "MSc students who hold a Graduate Research Assistantship pay no tuition.",
            ),
            h2("Fees"),
            table(
                ["Fee", "Amount", "Who pays"],
                [
                    ("Student services fee", f"{d.STUDENT_SERVICES_FEE} per year", "All students"),
                    ("Technology fee", f"{d.TECHNOLOGY_FEE} per year", "All students"),
                    ("Laboratory fee", f"{d.LAB_FEE} per year", "Students in laboratory courses"),
                    ("Undergraduate application fee", d.APPLICATION_FEE, "First-year and transfer applicants"),
                    ("Graduate application fee", d.GRAD_APPLICATION_FEE, "MSc applicants"),
                    ("Enrollment deposit", d.DEPOSIT, "Admitted students, credited to tuition"),
                ],
                "Fees",
            ),
            p(
                f"The Student Services Fee is an annual charge of {d.STUDENT_SERVICES_FEE} that pays for the health center, counseling, Career Services and the Heron Fieldhouse.",
                f"The Technology Fee is an annual charge of {d.TECHNOLOGY_FEE} for campus networks, software licences and the Fabrication Studio.",
                f"The Laboratory Fee is an annual charge of {d.LAB_FEE} for students enrolled in one or more laboratory courses.",
            ),
            h2("Estimated cost of attendance"),
            table(
                ["Item", "Undergraduate, living on campus"],
                [
                    ("Tuition", d.UG_TUITION),
                    ("Student services, technology and laboratory fees", "$1,240"),
                    ("Housing (double room in North Court)", "$7,900"),
                    ("Meal plan", d.MEAL_PLAN),
                    ("Books and supplies", "$1,100"),
                    ("Personal expenses and transport", "$2,400"),
                    ("Total", "$42,440"),
                ],
                f"Estimated cost of attendance, {d.ACADEMIC_YEAR}",
            ),
            p(
                f"The estimated cost of attendance for an undergraduate living on campus is $42,440 for the {d.ACADEMIC_YEAR} academic year.",
                f"The Quarry Commons meal plan is a charge of {d.MEAL_PLAN} per year for nineteen meals a week.",
            ),
            h2("Paying tuition"),
            p(
                "Tuition for the fall semester is due on August 15 and tuition for the spring semester on January 5.",
                "The monthly payment plan spreads each semester's bill over five instalments for a $40 enrolment charge.",
                "Bills are sent through the student portal; the Bursar's Office is located in Brennan Hall, room 140.",
            ),
            h2("Refunds"),
            p(
                "Students who withdraw in the first two weeks of a semester receive a full tuition refund.",
                "The refund is 50 percent in weeks three and four and nothing after the fourth week.",
                "Fees are not refundable after the first day of classes.",
            ),
            p(
                "For ways to lower the cost, see "
                + a("/admissions/scholarships.html", "scholarships and financial aid")
                + "."
            ),
        ]
    )
    return Page(
        "admissions/tuition-and-fees.html",
        "Tuition and fees",
        f"Tuition and fees for {d.ACADEMIC_YEAR}.",
        CRUMB,
        body,
        ADMISSIONS_SIDEBAR,
    )


def scholarships(Page):
    rows = [(s.name, s.amount, s.who, s.awards) for s in d.SCHOLARSHIPS]
    blocks = []
    for s in d.SCHOLARSHIPS:
        blocks += [
            h3(s.name),
            p(
                f"The {s.name} is an award of {s.amount} for {s.who}.",
                f"It is given on the basis of {s.criteria}.",
                f"Number of awards: {s.awards}.",
            ),
        ]
    body = "\n".join(
        [
            "<h1>Scholarships and financial aid</h1>",
            p(
                f"About 70 percent of Northbridge undergraduates receive a scholarship or grant, and the average award in {d.ACADEMIC_YEAR} was $11,300.",
                f'The Financial Aid Office is located in Brennan Hall, room 130, and answers questions at <a href="mailto:{d.FINAID_EMAIL}">{d.FINAID_EMAIL}</a>.',
            ),
            table(["Scholarship", "Amount", "For", "Number"], rows, "Scholarships"),
            *blocks,
            h2("Example award packages"),
            table(
                ["Student", "Awards", "Total per year"],
                [
                    ("First-year student with strong grades, no financial need", "Meridian Merit Award", "$8,000"),
                    (
                        "First-year student from Port Alder with financial need",
                        "Brennan Access Grant and Lakeshore Community Scholarship",
                        "$17,000",
                    ),
                    (
                        "International first-year student with strong grades",
                        "International Excellence Scholarship",
                        "$10,000",
                    ),
                    ("Hale Founders scholar", "Hale Founders Scholarship", "$24,600 (full tuition)"),
                    (
                        "MSc student on the thesis track",
                        "Graduate Research Assistantship",
                        "Full tuition and $28,800 stipend",
                    ),
                ],
                "Example award packages",
            ),
            p(
                "The examples above are typical packages for the 2025–2026 academic year and are not guarantees of an award."
            ),
            h2("How to apply"),
            p(
                f"The scholarship application deadline is {d.SCHOLARSHIP_DEADLINE} for students entering in {d.ENTRY}.",
                "Merit scholarships need no separate application except the Hale Founders Scholarship, which requires a design portfolio and an interview.",
                f"Need-based aid requires the Northbridge Financial Aid Form, which is due on {d.FINAID_FORM_DEADLINE}.",
                "A student may hold more than one award, but the total cannot exceed the cost of attendance.",
            ),
            h2("Keeping a scholarship"),
            p(
                "Renewable scholarships are renewed each year for students who remain enrolled full-time and in good academic standing.",
                "The Hale Founders Scholarship requires a cumulative GPA of 3.3 or higher to be renewed; the other merit awards require 2.8 or higher.",
            ),
            h2("Work and loans"),
            p(
                "The campus employment program offers about 900 student jobs, from library assistant to laboratory technician, at $16.50 per hour.",
                "Students may work up to 15 hours per week during the semester.",
            ),
            p(
                "See also "
                + a("/admissions/tuition-and-fees.html", "tuition and fees")
                + " and "
                + a("/admissions/international-students.html", "information for international students")
                + "."
            ),
        ]
    )
    return Page(
        "admissions/scholarships.html",
        "Scholarships and financial aid",
        "Scholarships, grants and student jobs.",
        CRUMB,
        body,
        ADMISSIONS_SIDEBAR,
    )


def international(Page):
    body = "\n".join(
        [
            "<h1>International students</h1>",
            p(
                "International students make up 18 percent of the Northbridge student body and come from 64 countries.",
                f'The International Student Office is located in Quarry Commons, room 305, and can be reached at <a href="mailto:{d.INTERNATIONAL_EMAIL}">{d.INTERNATIONAL_EMAIL}</a>.',
            ),
            h2("Applying from abroad"),
            p(
                "International applicants use the same application and meet the same academic requirements as domestic applicants.",
                "Transcripts that are not in English must be sent with a certified translation.",
                f"The final graduate deadline for international applicants is {d.GRAD_INTL_FINAL}, six weeks earlier than the domestic deadline, so that there is time for a student visa.",
            ),
            h2("English proficiency"),
            p(
                f"Undergraduate applicants need at least {d.TOEFL_UG} on the TOEFL iBT, {d.IELTS_UG} on IELTS Academic or {d.DUOLINGO_UG} on the Duolingo English Test.",
                f"Graduate applicants need at least {d.TOEFL_GRAD} on the TOEFL iBT, {d.IELTS_GRAD} on IELTS Academic or {d.DUOLINGO_GRAD} on the Duolingo English Test.",
                "Applicants who studied for at least two years in English are exempt.",
            ),
            h2("Tuition and scholarships"),
            p(
                f"International undergraduates pay {d.UG_TUITION_INTL} per year in tuition in {d.ACADEMIC_YEAR}.",
                f"All graduate students pay the same tuition of {d.GRAD_PER_CREDIT} per credit.",
                "The International Excellence Scholarship is an award of $10,000 per year for international undergraduates, renewable for four years.",
                "International MSc students are eligible for Graduate Research Assistantships on the same terms as domestic students.",
            ),
            h2("Student visa"),
            ol(
                [
                    "Accept your offer and pay the enrollment deposit.",
                    f"Send proof of funds of at least {d.PROOF_OF_FUNDS} for the first year, such as a bank statement or a scholarship letter.",
                    "Receive your Certificate of Enrollment from the International Student Office, usually within two weeks.",
                    "Apply for a student visa at the consulate nearest to you with the Certificate of Enrollment.",
                    "Arrive in Port Alder for the international orientation, which starts one week before the fall semester.",
                ]
            ),
            p(
                "The Certificate of Enrollment is a document issued by the International Student Office that confirms admission and proof of funds for the visa application.",
                f"The proof of funds requirement is a minimum of {d.PROOF_OF_FUNDS} for the first year of study.",
            ),
            h2("Arriving in Port Alder"),
            p(
                "The international orientation is a five-day program of welcome events, bank and phone set-up, a city tour and academic advising.",
                "Port Alder International Airport is 25 kilometres from campus, and the institute runs a free airport shuttle on the two days before orientation.",
                "First-year international students are guaranteed a room in North Court.",
            ),
            h2("Working during your studies"),
            p(
                "International students may work on campus for up to 15 hours per week during the semester and full-time during breaks.",
                "Graduates may apply for a post-study work permit of up to three years.",
            ),
            p(
                "See also "
                + a("/admissions/requirements.html#english", "English language requirements")
                + " and "
                + a("/admissions/faq.html", "the admissions FAQ")
                + "."
            ),
        ]
    )
    return Page(
        "admissions/international-students.html",
        "International students",
        "Applying to Northbridge from abroad.",
        CRUMB,
        body,
        ADMISSIONS_SIDEBAR,
    )


def admissions_faq(Page):
    pairs = [
        (
            "When is the application deadline?",
            f"The regular decision deadline for first-year applicants is {d.REGULAR_DECISION}. The early action deadline is {d.EARLY_ACTION}, and the graduate priority deadline is {d.GRAD_PRIORITY}.",
        ),
        (
            "Is early action binding?",
            "Early action at Northbridge is non-binding. Students admitted early may accept or decline their offer until May 1.",
        ),
        (
            "How much is tuition?",
            f"Undergraduate tuition for {d.ACADEMIC_YEAR} is {d.UG_TUITION} per year for full-time students, or {d.UG_TUITION_INTL} for international students. Graduate tuition is {d.GRAD_PER_CREDIT} per credit.",
        ),
        (
            "How much is the application fee?",
            f"The undergraduate application fee is {d.APPLICATION_FEE} and the graduate application fee is {d.GRAD_APPLICATION_FEE}. Fee waivers are available to applicants with financial need.",
        ),
        (
            "Do I need to send SAT or ACT scores?",
            "Northbridge has been test-optional since 2021. Applicants may send SAT or ACT scores, but applicants without scores are not disadvantaged.",
        ),
        (
            "What GPA do I need?",
            "The recommended minimum GPA is 3.0 on a 4.0 scale for both first-year and graduate applicants. The average admitted first-year student in 2025 had a GPA of 3.8.",
        ),
        ("Is the GRE required for the MSc?", "The GRE is not required for any MSc program at Northbridge."),
        (
            "How many letters of recommendation do I need?",
            "First-year applicants need one letter of recommendation from a mathematics or science teacher. Graduate applicants need two letters of recommendation.",
        ),
        (
            "What English test scores are accepted?",
            f"Northbridge accepts the TOEFL iBT ({d.TOEFL_UG} for undergraduates, {d.TOEFL_GRAD} for graduates), IELTS Academic ({d.IELTS_UG} and {d.IELTS_GRAD}) and the Duolingo English Test ({d.DUOLINGO_UG} and {d.DUOLINGO_GRAD}).",
        ),
        (
            "What scholarships are available?",
            "The Hale Founders Scholarship is the institute's most competitive award and covers full tuition for four years. Other awards include the Meridian Merit Award, the Brennan Access Grant, the International Excellence Scholarship and the Lakeshore Community Scholarship.",
        ),
        (
            "When is the scholarship deadline?",
            f"The scholarship application deadline is {d.SCHOLARSHIP_DEADLINE}. The Northbridge Financial Aid Form is due on {d.FINAID_FORM_DEADLINE}.",
        ),
        (
            "Is housing guaranteed?",
            f"Housing is guaranteed for all first-year students. The housing application deadline is {d.HOUSING_DEADLINE}.",
        ),
        (
            "Can I visit campus?",
            "Campus tours leave from the Admissions Office in Brennan Hall at 10:00 and 14:00 on weekdays and at 11:00 on Saturdays. The Northbridge Open Day is held on the third Saturday of October.",
        ),
        (
            "Can I transfer credits from another college?",
            "Courses passed with a grade of C or better at an accredited institution may transfer, up to a maximum of 64 credits.",
        ),
        (
            "Can I defer my admission?",
            "Admitted first-year students may defer their admission for one year for work, service or health reasons by writing to the Admissions Office before June 1.",
        ),
        (
            "What happens after I submit my application?",
            "The Admissions Office sends a confirmation e-mail within two days and a checklist of missing documents within two weeks. Applicants can follow their application in the applicant portal.",
        ),
        (
            "Can I apply to more than one MSc program?",
            "Graduate applicants may apply to at most two MSc programs in the same year, with a separate application fee for each.",
        ),
        (
            "Do you accept the International Baccalaureate?",
            "Northbridge welcomes the International Baccalaureate. IB applicants should take Mathematics and Physics at Higher Level, and scores of 6 or 7 in Higher Level subjects may earn transfer credit.",
        ),
        (
            "Is there an interview?",
            "Interviews are optional for most first-year applicants and are held online from October to February. Finalists of the Hale Founders Scholarship are interviewed on campus in March.",
        ),
        (
            "What is the acceptance rate?",
            "In 2025 Northbridge admitted 34 percent of first-year applicants and 41 percent of MSc applicants.",
        ),
        (
            "Can I visit a class?",
            "Admitted students can sit in on a class in any department during the Admitted Students Days in April. Prospective students can visit a lecture with a campus tour on weekdays.",
        ),
        (
            "How do I contact the Admissions Office?",
            f"The Admissions Office answers e-mail at {d.ADMISSIONS_EMAIL} and telephone calls at {d.PHONE}. Graduate applicants may also write to {d.GRADUATE_EMAIL}.",
        ),
    ]
    body = "\n".join(
        [
            "<h1>Admissions: frequently asked questions</h1>",
            p(
                "Answers to the questions the Admissions Office hears most often.",
                "For questions about degree programs and courses, see the "
                + a("/programs/faq.html", "programs FAQ")
                + ".",
            ),
            faq(pairs),
        ]
    )
    return Page(
        "admissions/faq.html",
        "Admissions FAQ",
        "Frequently asked questions about applying to Northbridge.",
        CRUMB,
        body,
        ADMISSIONS_SIDEBAR,
    )


def pages(Page):
    return [
        index(Page),
        requirements(Page),
        deadlines(Page),
        tuition(Page),
        scholarships(Page),
        international(Page),
        admissions_faq(Page),
    ]
