"""Use with mitmproxy: `mitmdump -s addons/diagscope_addon.py --set diagscope_db=x.sqlite`."""

from diagscope.addon import DiagscopeAddon

addons = [DiagscopeAddon()]
