# Module form: one assignment per line, single quotes, a tuple, comments and trailing commas.
classes = [
    'cat',   # a comment
    "dog",
    'it\'s a "bird"',
]
templates = (
    lambda c: f'a photo of a {c}.',
    lambda c: f"itap of my {c}.",
)
