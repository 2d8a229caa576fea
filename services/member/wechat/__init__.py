"""The WeChat adapter: mini-program login (jscode2session), the access token, subscribe messages and their pushes."""
