print("cleanclip")
