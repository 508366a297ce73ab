"""The older systems' documented APIs as thin facades over Entrepôt.

Each module keeps one old project's names and behaviour so that its users can
move over without rewriting their code; the hazards of the originals (pickle,
path traversal, locks left behind) are dropped.
"""
