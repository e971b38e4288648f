"""Selection: which of a project's media go to volunteers, by the project's policy.

A manager reads and sets the policy (``api`` → ``service`` → ``repository``, on the
``SelectionPolicy`` table); selecting walks the catalogue's candidates (``catalogue``, its API
only) in the review queue's order, weighs each by the policy (``policy``, pure), groups an
event's pictures or a video's frames into one subject, and makes the subjects through the
built-in volunteers' or Zooniverse's own code paths.
"""
