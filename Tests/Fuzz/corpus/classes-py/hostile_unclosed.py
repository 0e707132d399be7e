{
    "classes": ["cat", "dog"],
    "templates": [lambda s: f"a photo of a {s}."]
