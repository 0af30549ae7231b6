/*
 * mayfly_mask: the dictionary masking strategies of anonymizer/strategies.py in C.
 *
 * Role: compute, for one value, exactly the text the SQL expressions of
 * strategies.py compute (same keyed hash, same dictionary picks, same
 * layout), without the dozen intermediate texts those expressions allocate
 * per row. The dictionaries arrive as constant text[] arguments and are
 * unpacked once per call site (fn_extra). Python falls back to the SQL
 * expressions when this extension is not installed; tests compare both.
 *
 * It must not read tables, files or settings: values in, masked text out.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

PG_MODULE_MAGIC;

typedef struct Dict
{
	Datum		source;			/* the array datum it was unpacked from */
	int			n;
	int			maxlen;			/* the longest word, for sizing results */
	char	  **word;
	int		   *len;
} Dict;

typedef struct Dicts
{
	Dict		d[3];
} Dicts;

static void
unpack(Dict *dict, Datum source, MemoryContext mcxt)
{
	ArrayType  *arr = DatumGetArrayTypeP(source);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	MemoryContext old = MemoryContextSwitchTo(mcxt);

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("mayfly_mask: empty dictionary")));
	dict->maxlen = 0;
	dict->word = palloc(sizeof(char *) * n);
	dict->len = palloc(sizeof(int) * n);
	for (int i = 0; i < n; i++)
	{
		text	   *t = DatumGetTextPP(elems[i]);

		if (nulls[i])
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							errmsg("mayfly_mask: NULL in a dictionary")));
		dict->len[i] = VARSIZE_ANY_EXHDR(t);
		dict->word[i] = pnstrdup(VARDATA_ANY(t), dict->len[i]);
		dict->maxlen = Max(dict->maxlen, dict->len[i]);
	}
	dict->n = n;
	dict->source = source;
	MemoryContextSwitchTo(old);
}

/* The dictionaries of arguments first..first+count-1, unpacked once per call site. */
static Dicts *
dicts(FunctionCallInfo fcinfo, int first, int count)
{
	Dicts	   *ds = (Dicts *) fcinfo->flinfo->fn_extra;

	if (ds == NULL)
	{
		ds = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(Dicts));
		fcinfo->flinfo->fn_extra = ds;
	}
	for (int i = 0; i < count; i++)
	{
		Datum		source = PG_GETARG_DATUM(first + i);

		if (ds->d[i].word == NULL || ds->d[i].source != source)
			unpack(&ds->d[i], source, fcinfo->flinfo->fn_mcxt);
	}
	return ds;
}

/* hashtextextended(value, seed) under the argument's collation, as the SQL does. */
static int64
keyed_hash(FunctionCallInfo fcinfo)
{
	return DatumGetInt64(DirectFunctionCall2Coll(hashtextextended, PG_GET_COLLATION(),
												 PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)));
}

/*
 * The result text, written in place: one palloc per value, sized by an upper
 * bound (dictionary words are short; every caller adds up its parts' maxima).
 */
typedef struct Out
{
	text	   *t;
	char	   *p;
} Out;

static void
start(Out *out, int cap)
{
	out->t = (text *) palloc(VARHDRSZ + cap);
	out->p = VARDATA(out->t);
}

static inline void
put(Out *out, const char *s, int len)
{
	memcpy(out->p, s, len);
	out->p += len;
}

static inline void
putc_(Out *out, char c)
{
	*out->p++ = c;
}

static text *
finish(Out *out)
{
	SET_VARSIZE(out->t, out->p - (char *) out->t);
	return out->t;
}

/* dict[1 + ((h >> shift) & 65535) % size] in SQL (int8 >> is arithmetic). */
static inline void
pick(Out *out, const Dict *dict, int64 h, int shift)
{
	int			i = (int) ((h >> shift) & 65535) % dict->n;

	put(out, dict->word[i], dict->len[i]);
}

/* to_hex(int8): the 64 bits as unsigned, lower case, no leading zeros (at most 16). */
static void
hex(Out *out, int64 h)
{
	char		buf[16];
	int			p = 16;
	uint64		v = (uint64) h;

	do
	{
		buf[--p] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v != 0);
	put(out, buf + p, 16 - p);
}

/* A non-negative number in decimal, left-padded with zeros to `width` (at most 20). */
static void
decimal(Out *out, uint64 v, int width)
{
	char		buf[20];
	int			p = 20;

	do
	{
		buf[--p] = '0' + (char) (v % 10);
		v /= 10;
	} while (v != 0);
	while (20 - p < width)
		buf[--p] = '0';
	put(out, buf + p, 20 - p);
}

static void
suffix(Out *out, int64 h, bool unique)
{
	if (unique)
	{
		putc_(out, ' ');
		hex(out, h);
	}
}

/* mayfly_email(value, seed, firsts, lasts, domains): <hex>.first.last@domain */
PG_FUNCTION_INFO_V1(mayfly_email);
Datum
mayfly_email(PG_FUNCTION_ARGS)
{
	Dicts	   *ds = dicts(fcinfo, 2, 3);
	int64		h = keyed_hash(fcinfo);
	Out			out;

	start(&out, 16 + 3 + ds->d[0].maxlen + ds->d[1].maxlen + ds->d[2].maxlen);
	hex(&out, h);
	putc_(&out, '.');
	pick(&out, &ds->d[0], h, 0);
	putc_(&out, '.');
	pick(&out, &ds->d[1], h, 16);
	putc_(&out, '@');
	{
		int			d = (int) ((h >> 40) & 255) % ds->d[2].n;

		put(&out, ds->d[2].word[d], ds->d[2].len[d]);
	}
	PG_RETURN_TEXT_P(finish(&out));
}

/* mayfly_phone(value, seed, prefix, unique): prefix || 7 digits [|| ' ' || hex] */
PG_FUNCTION_INFO_V1(mayfly_phone);
Datum
mayfly_phone(PG_FUNCTION_ARGS)
{
	int64		h = keyed_hash(fcinfo);
	text	   *prefix = PG_GETARG_TEXT_PP(2);
	int			plen = VARSIZE_ANY_EXHDR(prefix);
	Out			out;

	start(&out, plen + 7 + 17);
	put(&out, VARDATA_ANY(prefix), plen);
	decimal(&out, (uint64) ((h & PG_INT64_MAX) % 10000000), 7);
	suffix(&out, h, PG_GETARG_BOOL(3));
	PG_RETURN_TEXT_P(finish(&out));
}

/* mayfly_name(value, seed, firsts, lasts, part 0/1/2 = first/last/full, unique) */
PG_FUNCTION_INFO_V1(mayfly_name);
Datum
mayfly_name(PG_FUNCTION_ARGS)
{
	Dicts	   *ds = dicts(fcinfo, 2, 2);
	int64		h = keyed_hash(fcinfo);
	int32		part = PG_GETARG_INT32(4);
	Out			out;

	start(&out, ds->d[0].maxlen + 1 + ds->d[1].maxlen + 17);
	if (part != 1)
		pick(&out, &ds->d[0], h, 0);
	if (part == 2)
		putc_(&out, ' ');
	if (part != 0)
		pick(&out, &ds->d[1], h, 16);
	suffix(&out, h, PG_GETARG_BOOL(5));
	PG_RETURN_TEXT_P(finish(&out));
}

/* mayfly_address(value, seed, streets, suffixes, cities, part 0/1/2 = street/city/full, unique) */
PG_FUNCTION_INFO_V1(mayfly_address);
Datum
mayfly_address(PG_FUNCTION_ARGS)
{
	Dicts	   *ds = dicts(fcinfo, 2, 3);
	int64		h = keyed_hash(fcinfo);
	int32		part = PG_GETARG_INT32(5);
	Out			out;

	start(&out, 4 + 1 + ds->d[0].maxlen + 1 + ds->d[1].maxlen + 2 + ds->d[2].maxlen + 17);
	if (part != 1)
	{
		decimal(&out, (uint64) (1 + ((h >> 48) & 1023)), 0);
		putc_(&out, ' ');
		pick(&out, &ds->d[0], h, 0);
		putc_(&out, ' ');
		pick(&out, &ds->d[1], h, 16);
	}
	if (part == 2)
		put(&out, ", ", 2);
	if (part != 0)
		pick(&out, &ds->d[2], h, 32);
	suffix(&out, h, PG_GETARG_BOOL(6));
	PG_RETURN_TEXT_P(finish(&out));
}
