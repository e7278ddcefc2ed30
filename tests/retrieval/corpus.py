"""A hand-built corpus whose rankings are known: the chunks share no word but "library" (hours, laptops)."""

CHUNKS = [
    {
        "id": "hours",
        "url": "https://u.example/library",
        "text": "The library opens at nine in the morning on weekdays.",
    },
    {"id": "parking", "url": "https://u.example/parking", "text": "Parking permits are sold at the security office."},
    {
        "id": "laptops",
        "url": "https://u.example/it",
        "text": "Graduate students may borrow laptops from the library desk.",
    },
    {"id": "meals", "url": "https://u.example/food", "text": "The cafeteria serves vegetarian meals every day."},
    {"id": "exams", "url": "https://u.example/exams", "text": "Exam results are published online in June."},
]
