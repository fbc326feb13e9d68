// Package dataplane makes approved managed private endpoints carry traffic:
// each cluster's managed network (private addresses on loopback, a DNS
// server answering as Azure's private DNS zones do, an egress proxy that
// lets a connection through only on an allowed path), the backends that
// stand for the targets, and the checks of 'privlink diagnose'. Its state is
// computed from the store and recomputed when the engine commits a change
// (resource.Engine.Watch), never polled.
package dataplane
