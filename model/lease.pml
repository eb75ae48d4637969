/*
 * lease.pml: the Redis lease-and-fencing protocol (issue 16), checked exhaustively by spin.
 * Run it with scripts/check-model (CI: 3 hosts and 4 pairs, 2 hosts and 6 pairs).
 *
 * WHAT IS MODELLED
 *   H hosts share one session through Redis. Each one runs the exchange loop of the core
 *   (auth_core::Coordinator, SPEC.md §3 and §3a; protocol decided in issue 16) again and again:
 *     lock    SET lock <token> NX PX lease     (a host that finds the key taken waits)
 *     load    version + stored pair + spent flag; the version becomes the host's `expected`,
 *             and the session adopts what the store holds (the core's `adopt`: a newer
 *             generation, or any pair when it holds none, or "our very pair, recorded spent")
 *     decide  an unspent pair in memory: refresh it (or, fresh enough, send nothing);
 *             no usable pair (the stored pair is spent or absent): log in
 *     save    the spent state, fenced, BEFORE the refresh is sent (SPEC.md §3, rotation
 *             safety); refused: the refresh is not sent; re-load, take the stored session
 *     send    the server rotates the pair and answers (or the request, or the answer, is lost)
 *     save    the new pair, fenced; refused: re-load, take the stored session
 *     unlock  compare-and-delete (if GET lock == token then DEL)
 *   Every Redis command or Lua script is one `atomic`. A fenced save succeeds only if the
 *   stored version equals the saver's `expected` and the lock key holds the saver's token or
 *   is absent; it then writes version + 1, which becomes `expected`.
 *   "Take the stored session" (what the core must do on a refused save) replaces the session
 *   in memory by the stored one, whatever its generation, and an absent one too: an unsaved
 *   pair is dropped, and after a refused spent-state save the local spend is taken back (the
 *   request never left). The weaker choices -DKEEP_SPEND and -DKEEP_UNSAVED lose pairs (P2).
 *   The server issues pair ids 1, 2, 3, ... (a login or a rotation issues the next one); a
 *   refresh with an issued, unspent id spends it and issues the next.
 *   Faults, any number of them, at any point:
 *     - lease expiry: the `Lease` process deletes the lock key at any moment. The holder's
 *       next step interleaves arbitrarily late, so this is a host paused past its lease
 *       (SIGSTOP, GC pause, slow network) that later carries on from where it was;
 *     - crash: at any step a host restarts with empty memory; its lock key stays until it
 *       expires;
 *     - a lost answer: the server rotated but the reply never arrives; or a request lost
 *       before the server saw it (either way the refresh token counts as spent, SPEC.md §3,
 *       and the stored spent state makes the next exchange log in).
 *
 * PROPERTIES (assertions)
 *   P1  no double spend: the server never receives a refresh token it has already rotated.
 *   P2  no rotated pair that has arrived is lost. A pair is LOST when the server issued it,
 *       never saw it spent, and it can no longer reach the store. That is unavoidable only
 *       when it never reached the store because the answer was lost, or because its host
 *       crashed, or was paused past its lease and overtaken, after the answer arrived and
 *       before saving it (its late save is refused and the pair dies with it). Three
 *       assertions say that nothing else loses a pair:
 *       P2a a successful save never overwrites an unspent stored pair, except with the record
 *           of its own spend: once a pair is in the store it stays there until it is spent;
 *       P2b a host whose lease still holds when it saves the pair it received gets it into
 *           the store (a refused save implies that its lock key was gone or another's);
 *       P2c a host that logs in while holding the lease finds no unspent pair in the store:
 *           with P2a, a login follows only a loss above (or starts an empty store). A host
 *           paused past its lease may log in late, but its late save is then refused.
 *
 * SEEDED BUG: -DNO_FENCING makes every save succeed (no version compare-and-set, no lock
 * check); spin must then find a double spend (P1). -DP1_ONLY drops the P2 assertions, so that
 * the error spin reports is P1's. Each guard alone: -DNO_LOCK_CHECK keeps P1 (the version
 * compare-and-set is the fence) but breaks P2 (a late holder's save slips in under another
 * host's lease, which then acts on a store it no longer sees); -DNO_VERSION_CHECK breaks P1
 * (a late holder spends a token once the lock key has gone).
 * Sanity variants (each must FAIL, or the model is vacuously safe):
 *   -DEXPECT_PROGRESS  no faults at all; asserts that no refreshed pair is ever saved;
 *   -DEXPECT_FENCE     asserts that late spent-state saves and late new-pair saves are not
 *                      both refused somewhere (the fence is exercised under these faults).
 *
 * ABSTRACTED AWAY
 *   - Time: lease length, renewal and token lifetimes. Expiry is a nondeterministic event,
 *     a superset of every timing. The renewer's "lease lost" flag is not used: the fence
 *     alone is checked, which is conservative.
 *   - The lock token is the host's number, not a random 128-bit value: a host runs one
 *     exchange at a time and a crashed incarnation never acts again, so two live holders
 *     never share a token.
 *   - The session key's expiry (PEXPIREAT): the store never forgets by itself.
 *   - Redis down or slow (Unavailable), failover, lost acknowledged writes: Redis is one
 *     linearizable primary.
 *   - Pair ids stand for the core's token generations, so two pairs never share one; this
 *     holds in the core as long as a login continues from the generation of the session it
 *     adopted. The bearer token, API requests, 429/503 (not spent), account switches and the
 *     password are not modelled.
 *   - Bounded: a host starts an exchange only while fewer than MAXID pairs were issued.
 *   - Safety only: liveness (every host eventually gets a token) is not checked.
 */

#ifndef H
#define H 3              /* hosts */
#endif
#ifndef MAXID
#define MAXID 3          /* an exchange starts only while fewer pairs were issued */
#endif
#define NID (MAXID + H + 1)

/* Redis */
byte lock;               /* 0: absent; else the holder's token (its host number) */
byte ver;                /* session key: version (0: absent) */
byte spair;              /*              pair id (0: none) */
bit  sspent;             /*              the pair's refresh token was recorded spent */

/* The server */
byte cur;                /* the last pair id issued */
bit  srvSpent[NID];      /* srvSpent[p]: the server rotated p */

/* Sanity variants: each assertion states that something never happens, and must fail */
#ifdef EXPECT_PROGRESS
#define SANITY_REFRESHED assert(false)         /* a refreshed pair is never saved */
#else
#define SANITY_REFRESHED skip
#endif
#ifdef EXPECT_FENCE
bit lateSpent, lateNew;  /* a late spent-state save, a late new-pair save were refused */
#define SANITY_LATE_SPENT lateSpent = 1; assert(!lateNew)
#define SANITY_LATE_NEW lateNew = 1; assert(!lateSpent)
#else
#define SANITY_LATE_SPENT skip
#define SANITY_LATE_NEW skip
#endif

/* The fenced save's two guards; -DNO_FENCING drops both (the seeded bug), -DNO_VERSION_CHECK
   or -DNO_LOCK_CHECK one of them (to see what each one buys). */
#if defined(NO_FENCING) || defined(NO_VERSION_CHECK)
#define VERSION_OK(exp) true
#else
#define VERSION_OK(exp) (ver == exp)
#endif
#if defined(NO_FENCING) || defined(NO_LOCK_CHECK)
#define LOCK_OK(me) true
#else
#define LOCK_OK(me) (lock == me || lock == 0)
#endif
#define FENCE_OK(me, exp) (VERSION_OK(exp) && LOCK_OK(me))

#ifdef P1_ONLY
#define P2(c) skip
#else
#define P2(c) assert(c)
#endif

/* P2a, checked in every successful save of (p, s): an unspent stored pair is only ever
   replaced by the record of its own spend. */
#define SAVE(p, s) \
    P2(spair == 0 || sspent || (p == spair && s)); \
    ver++; spair = p; sspent = s

/* The core's adopt: a newer generation, or anything when it holds no pair; our very pair
   recorded spent: never send it. */
#define ADOPT(mp, ms) \
    if \
    :: spair != 0 && (spair > mp || mp == 0) -> mp = spair; ms = sspent \
    :: spair != 0 && spair == mp && sspent -> ms = 1 \
    :: else -> skip \
    fi

#ifdef EXPECT_PROGRESS
#define FAULT false
#else
#define FAULT true
#endif

/* What the core must do on a refused save: re-load and take the stored session as it is.
   Two weaker choices, each of which spin shows to lose a pair (P2):
   -DKEEP_SPEND    after a refused spent-state save the session keeps its token counted as
                   spent and adopts as the core's plain `adopt` does (only a newer generation,
                   or its own pair recorded spent): the request never left, yet the host logs in
                   and its login overwrites the unspent stored pair;
   -DKEEP_UNSAVED  after a refused new-pair save, an absent stored session leaves the unsaved
                   pair in memory: the host later spends it and overwrites the pair another host
                   saved under its lease. */
#ifdef KEEP_SPEND
#define FORCED_GUARD (pc == FORCED)
#else
#define FORCED_GUARD (pc == FORCED || pc == RELOAD)
#endif
#ifdef KEEP_UNSAVED
#define TAKE_STORED if :: spair != 0 -> mp = spair; ms = sspent :: else -> skip fi
#else
#define TAKE_STORED mp = spair; ms = sspent
#endif

/* Host program counters (RSAVE: saving a refreshed pair; NEWSAVE: one from a login) */
mtype = { IDLE, LOAD, SPENT, SEND, LOGIN, RSAVE, NEWSAVE, RELOAD, FORCED, UNLOCK };

proctype Host(byte me)
{
    mtype pc = IDLE;
    byte mp;             /* the pair in memory (0: none) */
    bit  ms;             /* its refresh token is spent */
    byte np;             /* a pair received, not yet saved */
    byte exp;            /* the version this host expects in the store */

end:
    do
    /* SET lock NX (a host that finds it taken retries: it waits here) */
    :: atomic { pc == IDLE && cur < MAXID && lock == 0 -> lock = me; pc = LOAD;
        printf("host %d: lock\n", me) }
    :: atomic { pc == LOAD ->
        exp = ver;
        ADOPT(mp, ms);
        printf("host %d: load v%d: pair %d, spent %d\n", me, ver, spair, sspent);
        if
        :: mp != 0 && !ms ->
            /* emitting the refresh spends its token (SPEC.md §3) */
            if
            :: ms = 1; pc = SPENT
            :: pc = UNLOCK          /* fresh enough: nothing to send */
            fi
        :: else -> pc = LOGIN       /* no usable refresh token: log in */
        fi }
    :: atomic { pc == SPENT ->
        if
        :: FENCE_OK(me, exp) ->
            SAVE(mp, 1); exp = ver; pc = SEND;
            printf("host %d: saved pair %d spent (v%d)\n", me, mp, ver)
        :: else ->
            SANITY_LATE_SPENT; pc = RELOAD;
            printf("host %d: spent save of pair %d refused (v%d, expected v%d, lock %d)\n",
                   me, mp, ver, exp, lock)
        fi }
    :: atomic { pc == SEND ->
        printf("host %d: refresh with pair %d\n", me, mp);
        /* P1: the server never receives a refresh token it has already rotated */
        assert(mp != 0 && mp <= cur && !srvSpent[mp]);
        if
        :: srvSpent[mp] = 1; cur++;
           if
           :: np = cur; pc = RSAVE
           :: FAULT -> np = 0; pc = UNLOCK;
              printf("host %d: answer (pair %d) lost\n", me, cur)
           fi
        :: FAULT -> pc = UNLOCK;  /* the request is lost before the server */
           printf("host %d: request lost\n", me)
        fi }
    :: atomic { pc == LOGIN ->
        printf("host %d: login, pair %d\n", me, cur + 1);
        /* P2c: a lease holder logs in only when the store holds no unspent pair */
        P2(lock != me || spair == 0 || sspent);
        cur++;
        if
        :: np = cur; pc = NEWSAVE
        :: FAULT -> np = 0; pc = UNLOCK;
           printf("host %d: answer (pair %d) lost\n", me, cur)
        fi }
    :: atomic { (pc == NEWSAVE || pc == RSAVE) ->
        mp = np; ms = 0;
        if
        :: FENCE_OK(me, exp) ->
            SAVE(np, 0); exp = ver;
            if
            :: pc == RSAVE -> SANITY_REFRESHED
            :: else -> skip
            fi;
            pc = UNLOCK;
            printf("host %d: saved pair %d (v%d)\n", me, np, ver)
        :: else ->
            /* P2b: a save is refused only when the lease was gone */
            P2(lock != me);
            SANITY_LATE_NEW; pc = FORCED;
            printf("host %d: save of pair %d refused (v%d, expected v%d, lock %d)\n",
                   me, np, ver, exp, lock)
        fi;
        np = 0 }
#ifdef KEEP_SPEND
    :: atomic { pc == RELOAD -> exp = ver; ADOPT(mp, ms); pc = UNLOCK }
#endif
    /* A refused save: re-load and adopt the stored session, whatever its generation; after a
       refused spent-state save this also takes back the local spend (the request never left) */
    :: atomic { FORCED_GUARD ->
        /* the fleet converges on the store, an absent one too (an unsaved pair is dropped) */
        exp = ver; TAKE_STORED; pc = UNLOCK;
        printf("host %d: re-load v%d: holds pair %d now\n", me, ver, mp) }
    :: atomic { pc == UNLOCK ->
        if
        :: lock == me -> lock = 0; printf("host %d: unlock\n", me)
        :: else -> skip
        fi;
        exp = 0; pc = IDLE }
    /* a crash at any step: memory is lost, the lock key is left to expire */
    :: atomic { FAULT && (pc != IDLE || mp != 0) ->
        printf("host %d: crash at %e\n", me, pc);
        pc = IDLE; mp = 0; ms = 0; np = 0; exp = 0 }
    od
}

/* Lease expiry at any moment: the holder was paused (or crashed) past its lease. */
active proctype Lease()
{
end:
    do
    :: atomic { FAULT && lock != 0 -> printf("lease of host %d expired\n", lock); lock = 0 }
    od
}

init
{
    atomic {
        byte i = 1;
        do
        :: i <= H -> run Host(i); i++
        :: else -> break
        od
    }
}
