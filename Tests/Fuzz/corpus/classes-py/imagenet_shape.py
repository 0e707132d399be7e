{
    "classes": ["tench", "goldfish", "kite (bird of prey)", "yellow lady's slipper", "banana"],
    
    "superclasses": [["tench", "goldfish"], ["kite (bird of prey)"], ["yellow lady's slipper", "banana"]],
    
    "templates": [lambda s: f"a bad photo of a {s}.", lambda s: f"a photo of many {s}.", lambda s: f"a {s} in a video game.", lambda s: f"itap of my {s}."]
}
