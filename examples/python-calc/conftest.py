# Makes `import calc` work when pytest runs from this folder.
