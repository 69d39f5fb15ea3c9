from setuptools import setup

setup(
    name='Lorenz_Tools',
    install_requires=[
        'numpy==2.4.6',
        'scipy>=1.10',
    ],
)
