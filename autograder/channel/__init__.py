"""The data-only channel between the trusted grader and the student's kernel in its container.

``wire`` and ``kernel`` run inside the container; ``session`` is the trusted end. Importing this
package imports nothing else, so the container needs only this folder.
"""
