package descopeoidc

import "sync"

// Under Yaegi v0.16.1 every call of an interpreted method builds a reflect wrapper of it (getMethod), and the first
// build of each method's wrapper stores the method's reflect type in the interpreter's type cache without a lock: two
// requests calling a method for the first time at once race there (the race detector reports it in Yaegi's
// itype.refType under the scenarios and the matrix; in Traefik both write the same type). warmMethods evaluates
// every method of the plugin once, serially, when the first middleware of the process is built, so that the cache is
// filled before any request runs: ~265 wrappers, once per process. Compiled, it only makes as many method values.
// TestWarmListsEveryMethod keeps the list whole; yaegilint_test.go rejects the other ways to make a wrapper on a
// request path (method values, func literals as arguments).

var warmed struct {
	mu   sync.Mutex
	done bool
}

// warmMethods fills Yaegi's type cache for every method (see above); called by New, it does the work once.
func warmMethods() {
	warmed.mu.Lock()
	if !warmed.done {
		warmed.done = true
		_ = everyMethod()
	}
	warmed.mu.Unlock()
}

// everyMethod returns every method of the package as a method value (on nil or zero receivers: never called).
func everyMethod() []any {
	var r0 *Middleware
	var r1 *RedisConfig
	var r2 *accessTokenVerifier
	var r3 *authzRules
	var r4 chainMark
	var r5 claimRule
	var r6 *claimSources
	var r7 *claimsSourceVerifier
	var r8 *entry
	var r9 *entryCache
	var r10 *idTokenVerifier
	var r11 *keySet
	var r12 *logger
	var r13 *logoutTokenVerifier
	var r14 *ownCookies
	var r15 *pathMatcher
	var r16 *preflightWriter
	var r17 *provider
	var r18 *redisClient
	var r19 *redisConn
	var r20 *redisDialer
	var r21 *redisStore
	var r22 *sessionManager
	var r23 *sessionRegistry
	var r24 *stepUpRule
	var r25 *tokenClient
	var r26 *usedStates
	return []any{
		r0.ServeHTTP, r0.accessTokenClaims, r0.addStepUpClaims, r0.admitSession, r0.adopt, r0.buildVerifiers,
		r0.callbackError, r0.checkCallbackIssuer, r0.checkIntrospected, r0.checkStepUpIDToken,
		r0.checkVerifiedEmail, r0.collect, r0.collectClaims, r0.covers, r0.currentSession, r0.descopeEntry,
		r0.doRefresh, r0.event, r0.eventRefused, r0.exchange, r0.exchangeFailed, r0.finishStepUp, r0.forbidden,
		r0.forwardedClaims, r0.handleBackchannelLogout, r0.handleCallback, r0.handleFrontchannelLogout,
		r0.handleLoginEntry, r0.handleLogout, r0.handleSessionInfo, r0.introspect, r0.invalidToken, r0.keptNames,
		r0.keptSources, r0.linkSuccessor, r0.logf, r0.loginFailed, r0.loginURL, r0.logoutTarget, r0.markStepUp,
		r0.newSessionEntry, r0.outageOutlasted, r0.ownClaims, r0.providerUnavailable, r0.readSource,
		r0.redirectURI, r0.refresh, r0.refreshed, r0.refreshedClaims, r0.refuseSession, r0.renderHeaders,
		r0.screened, r0.sealedSession, r0.serveBearer, r0.serveDescopeCookie, r0.serveExcluded, r0.serveMetrics,
		r0.serveOwnPath, r0.servePreflight, r0.serveSession, r0.sessionLoginURL, r0.silentFallback, r0.startLogin,
		r0.startLoginTo, r0.startLoginWith, r0.startSilent, r0.stepUpChallenge, r0.stepUpDue, r0.successor,
		r0.touch, r0.unauthenticated, r0.unavailable, r0.unavailableSession, r0.userinfoClaims,
		r0.verifyClaimsSource, r0.verifyDescopeSession, r0.writeReplacement, r0.writeUnauthorized,
		r1.checkTopology, r1.durations, r1.identity, r1.options, r1.readSecrets, r1.tlsConfig, r2.checkAudience,
		r2.checkClaims, r2.checkClient, r2.verify, r3.check, r3.claimNames, r3.empty, r3.match, r3.mode, r4.stale,
		r5.check, r6.complete, r6.mergeMissing, r7.verify, r8.withHeaders, r9.drop, r9.dropChain, r9.dropRevoked,
		r9.evict, r9.get, r9.put, r9.putNew, r9.remove, r9.replaceIf, r9.store, r10.checkAZP, r10.checkAuthTime,
		r10.checkClaims, r10.othersTrusted, r10.verify, r11.find, r12.emit, r12.event, r12.logf, r13.checkClaims,
		r13.verify, r14.cut, r14.filter, r14.isOwn, r15.add, r15.match, r16.Header, r16.Write, r16.WriteHeader,
		r17.fetch, r17.fetchKeys, r17.fetchMetadata, r17.get, r17.keys, r17.lead, r17.lookupKey, r17.metadata,
		r17.refreshKeys, r17.retryAfter, r17.verificationKey, r18.askSentinel, r18.attempt, r18.close,
		r18.clusterSlots, r18.conn, r18.del, r18.dialPooled, r18.discoverMaster, r18.do, r18.drop, r18.eval,
		r18.exchange, r18.expire, r18.get, r18.incr, r18.installSlots, r18.integer, r18.invalidate, r18.loadSlots,
		r18.lookup, r18.nodeIndex, r18.prunePools, r18.publish, r18.putConn, r18.refresh, r18.route, r18.routed,
		r18.serverError, r18.set, r18.setSlot, r18.slotNode, r18.take, r18.xadd, r18.xrange, r19.close, r19.read,
		r19.roundTrip, r19.write, r20.dial, r20.hello, r21.claim, r21.client, r21.load, r21.revocations,
		r21.revoke, r21.settle, r21.spendOnce, r22.admit, r22.beginRefresh, r22.chainUntil, r22.chunkName,
		r22.clearHint, r22.clearSessionCookie, r22.clearStateCookie, r22.endSession, r22.expireChunked,
		r22.expireCookie, r22.handOut, r22.hintFor, r22.newCookie, r22.openSession, r22.peerRefresh,
		r22.pendingRefresh, r22.pickSession, r22.readSessionCookie, r22.readStateCookie, r22.renewShared,
		r22.replaceIf, r22.runRefresh, r22.sealHint, r22.sealSession, r22.sealState, r22.session, r22.sessionKey,
		r22.sessionValue, r22.settleRefresh, r22.stateCookie, r22.stateCookieName, r22.thinIfReopenable,
		r22.writeChunked, r22.writeHint, r22.writeSessionCookie, r22.writeStateCookie, r23.admit,
		r23.applyRevocations, r23.caches, r23.end, r23.evictChains, r23.finishRefresh, r23.handOut, r23.inFlight,
		r23.joinRefresh, r23.live, r23.mark, r23.neededClaims, r23.policyFor, r23.pollRevocations,
		r23.pruneRevocations, r23.recordSuccessor, r23.replaceIf, r23.revoke, r23.revoked, r23.sendPending,
		r23.share, r23.spendShared, r23.startPolling, r23.successorOf, r23.superseded, r23.warnStore,
		r24.authDeadline, r24.authParams, r24.challenge, r24.newLoginNeeded, r24.shortfall, r24.unmet,
		r25.authRequest, r25.clientAssertion, r25.exchangeCode, r25.exchangeIntrospection, r25.grant,
		r25.introspect, r25.refreshTokens, r25.revoke, r25.tokenRequest, r25.userinfo, r26.use,
	}
}
