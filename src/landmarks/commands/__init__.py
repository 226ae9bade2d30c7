"""The library behind the commands that take a trained checkpoint and make pictures or videos
from it: ``landmarks swap`` (:mod:`~landmarks.commands.swap`: style/geometry grids),
``landmarks manipulate`` (:mod:`~landmarks.commands.manipulate`: move landmarks, redraw) and
``landmarks animate`` (:mod:`~landmarks.commands.animate`: motion transfer onto a still).
:mod:`landmarks.cli` parses their arguments and calls them; the report draws with them too.
The motion equations they use are library code in :mod:`landmarks.animation`.
"""
