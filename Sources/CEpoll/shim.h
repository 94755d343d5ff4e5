#pragma once
// Linux event APIs the RPC event loop uses; Swift's Glibc module does not include these headers.
#include <sys/epoll.h>
#include <sys/eventfd.h>
