"""The Scrapy project: settings, site profiles, main-content cutting, the watch spider and its pipeline."""
