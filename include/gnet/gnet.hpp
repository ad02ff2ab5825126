// gnet/gnet.hpp — everything a gnet-cpp user needs, in one include.
#pragma once

#include "gnet/address.hpp"
#include "gnet/client.hpp"
#include "gnet/conn.hpp"
#include "gnet/conn_handle.hpp"
#include "gnet/engine.hpp"
#include "gnet/error.hpp"
#include "gnet/file.hpp"
#include "gnet/handler.hpp"
#include "gnet/logger.hpp"
#include "gnet/loop.hpp"
#include "gnet/metrics.hpp"
#include "gnet/options.hpp"
#include "gnet/proxy_protocol.hpp"
#include "gnet/unique_function.hpp"
#include "gnet/upgrade.hpp"
#include "gnet/worker_pool.hpp"
