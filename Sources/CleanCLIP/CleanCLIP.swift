// CleanCLIP module
