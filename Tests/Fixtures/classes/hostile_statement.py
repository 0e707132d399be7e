import os
classes = ["cat"]
