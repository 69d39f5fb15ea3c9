from setuptools import setup
setup(name='my_paper', version='1.0', packages=['my_paper'], install_requires=['requests==2.31.0'])
