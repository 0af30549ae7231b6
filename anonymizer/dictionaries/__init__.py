"""Small word lists (names, streets, cities) the masking strategies pick from.

A package only so that the .txt files ship in the wheel; it holds no code.
"""
