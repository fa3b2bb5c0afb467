"""minikernel/hw"""
