{
    "classes": ["cat"],
    "templates": [lambda s: f"a photo of a {s.__class__.__mro__}."]
}
