print("infinity")
