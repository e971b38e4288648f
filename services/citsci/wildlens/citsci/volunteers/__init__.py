"""The built-in volunteers: subjects of a built-in subject set, served one at a time to the
project's volunteers, their classifications, retirement by the set's rules, and the consensus
published as ``citsci.consensus`` when a subject retires.

Routes in ``api`` call ``service`` for the rules, which reads and writes through
``repository``; ``consensus`` turns a retired subject's classifications into the event,
``catalogue`` reads the media from the catalogue's API.
"""
