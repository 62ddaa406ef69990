"""The checks of the course's assignments, one subpackage per assignment."""
