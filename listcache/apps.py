from django.apps import AppConfig


class ListcacheConfig(AppConfig):
    name = "listcache"
    verbose_name = "Public lists' cache"
