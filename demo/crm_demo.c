/*-------------------------------------------------------------------------
 *
 * demo/crm_demo.c
 *
 * The module of the extension crm_demo, the deterministic demo and
 * benchmark data generator: set-returning functions that produce the rows
 * of a simulated client base, one table at a time, for
 * crm.generate_demo_data() (demo/crm_demo--0.3.0.sql) to insert.
 *
 * Every client is simulated on its own, from random streams seeded by
 * (seed, client_id, stream) only, so that a client's rows depend neither on
 * the plan, nor on how the range of clients is cut into calls, nor on the
 * other clients.  Each row function simulates the clients of its range
 * again and returns its own table's rows; the identifiers of orders,
 * incidents and interactions are numbered on from the first identifier the
 * caller passes, in client order and, within a client, in time order.
 *
 * Behaviour model (time unit: days, t = 0 at as_of, history before it):
 * 'regular' clients follow BG/NBD (purchase rate lambda ~ Gamma(r, alpha),
 * drop-out probability after each repeat purchase p ~ Beta(a, b)); the
 * other archetypes follow their own scripts (see docs/demo.md).  Order
 * values of every client follow Gamma-Gamma: nu ~ Gamma(q, rate v), each
 * order's target net value ~ Gamma(p, rate nu).  The lines of an order are
 * chosen from the fixed demo catalogue to come as close to the target as
 * the catalogue's prices allow.
 *
 * Random numbers: xoshiro256** seeded through splitmix64.  Results are
 * identical on every run on the same platform (they use libm's log, exp,
 * pow and cos).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_MODULE_MAGIC;

/* ------------------------------------------------------------------------
 * Model parameters (time unit: days; money: EUR)
 * ------------------------------------------------------------------------
 */
#define DEMO_R			0.9		/* BG/NBD: shape of the purchase rate */
#define DEMO_ALPHA		30.0	/* BG/NBD: rate (days) of the purchase rate */
#define DEMO_A			0.6		/* BG/NBD: drop-out probability ~ Beta(a, b) */
#define DEMO_B			6.0
#define DEMO_GG_P		6.0		/* Gamma-Gamma: shape of one order's value */
#define DEMO_GG_Q		4.0		/* Gamma-Gamma: shape of nu */
#define DEMO_GG_V		25.0	/* Gamma-Gamma: rate of nu (gamma) */
#define DEMO_HISTORY	1095.0	/* days of history before as_of */

#define NUM_ARCHETYPES	9
#define ARCH_REGULAR	0
#define ARCH_LOYAL		1
#define ARCH_PROMISING	2
#define ARCH_AT_RISK	3
#define ARCH_DRIFTING	4
#define ARCH_ABOUT_TO_LOSE 5
#define ARCH_SEASONAL	6
#define ARCH_PROMO		7
#define ARCH_LOST		8

static const char *const archetype_names[NUM_ARCHETYPES] = {
	"regular", "loyal", "promising", "at_risk", "drifting", "about_to_lose",
	"seasonal_sleeper", "promo_dependent", "lost"
};
static const double archetype_shares[NUM_ARCHETYPES] = {
	0.40, 0.08, 0.07, 0.07, 0.07, 0.07, 0.07, 0.08, 0.09
};
static const char *const archetype_descriptions[NUM_ARCHETYPES] = {
	"BG/NBD and Gamma-Gamma with the population parameters of crm.demo_model()",
	"buys about weekly (every 5 to 10 days), more than 10 orders, alive",
	"first purchase 25 to 120 days ago, buys about every two weeks",
	"bought about weekly, rate fell 3.5 to 7 times 75 to 150 days ago",
	"buys every few days for 20 to 60 days, vanishes for 50 to 150 days, comes back",
	"bought regularly, silent for 4 to 9 of its own gaps (45 to 240 days)",
	"buys only from 20 Nov to 31 Dec, 20 Mar to 25 Apr and 15 Jun to 31 Jul",
	"buys only within 5 days after an outbound offer, with the offer's discount",
	"bought a few times, silent for over a year, win-back offers got no response"
};

/* random streams of one client */
#define STREAM_PROFILE		1
#define STREAM_BEHAVIOUR	2
#define STREAM_SPEND		3
#define STREAM_BASKET		4
#define STREAM_CONTACT		5
#define STREAM_NOISE		6

/* ------------------------------------------------------------------------
 * Random numbers: xoshiro256** seeded by splitmix64
 * ------------------------------------------------------------------------
 */
typedef struct DemoRng
{
	uint64		s[4];
} DemoRng;

static inline uint64
splitmix64(uint64 *x)
{
	uint64		z = (*x += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static void
rng_seed(DemoRng *rng, int64 seed, int64 client, uint32 stream)
{
	uint64		x = (uint64) seed;
	uint64		h;

	h = splitmix64(&x);
	x = h ^ ((uint64) client * UINT64CONST(0xD1B54A32D192ED03));
	h = splitmix64(&x);
	x = h ^ ((uint64) stream * UINT64CONST(0x8CB92BA72F3D8DD7));
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&x);
}

static inline uint64
rotl64(uint64 x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64
rng_next(DemoRng *rng)
{
	uint64	   *s = rng->s;
	uint64		result = rotl64(s[1] * 5, 7) * 9;
	uint64		t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

/* uniform on the open interval (0, 1) */
static inline double
rng_unit(DemoRng *rng)
{
	return ((double) (rng_next(rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static inline double
rng_between(DemoRng *rng, double lo, double hi)
{
	return lo + (hi - lo) * rng_unit(rng);
}

/* uniform integer in [0, n) */
static inline int
rng_int(DemoRng *rng, int n)
{
	int			k = (int) (rng_unit(rng) * n);

	return k < n ? k : n - 1;	/* u * n may round up to n */
}

static inline bool
rng_chance(DemoRng *rng, double p)
{
	return rng_unit(rng) < p;
}

static inline double
rng_exp(DemoRng *rng)
{
	return -log(rng_unit(rng));
}

static double
rng_normal(DemoRng *rng)
{
	double		u1 = rng_unit(rng);
	double		u2 = rng_unit(rng);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Gamma(shape, scale 1): Marsaglia and Tsang (2000) */
static double
rng_gamma(DemoRng *rng, double shape)
{
	double		d,
				c;

	if (shape < 1.0)
	{
		/* two draws, in a fixed order (operands are not sequenced) */
		double		g = rng_gamma(rng, shape + 1.0);

		return g * pow(rng_unit(rng), 1.0 / shape);
	}

	d = shape - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;)
	{
		double		x,
					v,
					u;

		do
		{
			x = rng_normal(rng);
			v = 1.0 + c * x;
		} while (v <= 0.0);
		v = v * v * v;
		u = rng_unit(rng);
		if (u < 1.0 - 0.0331 * x * x * x * x)
			return d * v;
		if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return d * v;
	}
}

/* a gamma variate with the given shape and mean */
static inline double
rng_gamma_mean(DemoRng *rng, double shape, double mean)
{
	return rng_gamma(rng, shape) * mean / shape;
}

static double
rng_beta(DemoRng *rng, double a, double b)
{
	double		x = rng_gamma(rng, a);
	double		y = rng_gamma(rng, b);

	return x / (x + y);
}

static int
rng_poisson(DemoRng *rng, double mean)
{
	double		limit,
				prod;
	int			k = 0;

	if (mean <= 0.0)
		return 0;
	if (mean > 50.0)
	{
		double		x = floor(mean + sqrt(mean) * rng_normal(rng) + 0.5);

		return x < 0.0 ? 0 : (int) x;
	}
	limit = exp(-mean);
	prod = rng_unit(rng);
	while (prod > limit)
	{
		k++;
		prod *= rng_unit(rng);
	}
	return k;
}

/* index drawn from weights (need not sum to 1) */
static int
rng_pick(DemoRng *rng, const double *weights, int n)
{
	double		total = 0.0,
				x;

	for (int i = 0; i < n; i++)
		total += weights[i];
	x = rng_unit(rng) * total;
	for (int i = 0; i < n - 1; i++)
	{
		if (x < weights[i])
			return i;
		x -= weights[i];
	}
	return n - 1;
}

/* ------------------------------------------------------------------------
 * The demo catalogue: fixed, the same for every seed
 * ------------------------------------------------------------------------
 */
typedef struct DemoCategory
{
	int			id;
	int			parent;			/* 0: a root */
	const char *name;
	const char *noun;			/* leaves: the product noun */
	double		lo;				/* leaves: retail price range */
	double		hi;
} DemoCategory;

static const DemoCategory demo_categories[] = {
	{1, 0, "Food & Drink", NULL, 0, 0},
	{2, 0, "Home & Kitchen", NULL, 0, 0},
	{3, 0, "Beauty & Health", NULL, 0, 0},
	{4, 0, "Garden & Outdoor", NULL, 0, 0},
	{5, 0, "Electronics", NULL, 0, 0},
	{6, 1, "Coffee & Tea", NULL, 0, 0},
	{7, 1, "Snacks", NULL, 0, 0},
	{8, 1, "Beverages", "Juice", 1.29, 9.99},
	{9, 2, "Cookware", NULL, 0, 0},
	{10, 2, "Tableware", "Plate set", 9.99, 149.0},
	{11, 2, "Cleaning", "Cleaner", 1.99, 19.99},
	{12, 3, "Skin care", NULL, 0, 0},
	{13, 3, "Hair care", "Shampoo", 2.49, 29.99},
	{14, 3, "Vitamins", "Vitamin complex", 4.99, 39.99},
	{15, 4, "Plants & Seeds", NULL, 0, 0},
	{16, 4, "Garden tools", "Pruner", 7.99, 89.0},
	{17, 4, "Grills", "Grill", 49.0, 699.0},
	{18, 5, "Audio", NULL, 0, 0},
	{19, 5, "Phone accessories", "Phone case", 4.99, 49.0},
	{20, 5, "Small appliances", "Kettle", 19.99, 249.0},
	{21, 6, "Coffee", "Coffee beans", 3.99, 29.99},
	{22, 6, "Tea", "Green tea", 1.99, 19.99},
	{23, 7, "Chocolate", "Chocolate bar", 0.99, 9.99},
	{24, 7, "Nuts & Crisps", "Mixed nuts", 1.49, 12.99},
	{25, 9, "Pans", "Frying pan", 14.99, 129.0},
	{26, 9, "Knives", "Chef knife", 9.99, 199.0},
	{27, 12, "Face", "Face cream", 4.99, 89.0},
	{28, 12, "Body", "Body lotion", 2.99, 29.99},
	{29, 15, "Seeds", "Seed mix", 0.99, 7.99},
	{30, 15, "Bulbs", "Tulip bulbs", 2.99, 24.99},
	{31, 18, "Headphones", "Headphones", 14.99, 349.0},
	{32, 18, "Speakers", "Speaker", 19.99, 499.0}
};
#define NUM_CATEGORIES	lengthof(demo_categories)

static const char *const product_variants[] = {
	"Basic", "Classic", "Original", "Eco", "Mini", "Lite", "Travel", "Plus",
	"Select", "Family size", "Pro", "Max", "Premium", "Signature", "Deluxe"
};
#define PRODUCTS_PER_LEAF	lengthof(product_variants)

#define NUM_PRICE_LISTS		3
#define PL_RETAIL			0
#define PL_PROMO			1
#define PL_WHOLESALE		2
static const char *const price_list_codes[NUM_PRICE_LISTS] = {"RETAIL", "PROMO", "WHOLESALE"};
static const char *const price_list_names[NUM_PRICE_LISTS] = {
	"Retail prices", "Promotional prices", "Wholesale prices for companies"
};
static const char *const price_list_kinds[NUM_PRICE_LISTS] = {"retail", "promotional", "wholesale"};
static const double price_list_factors[NUM_PRICE_LISTS] = {1.0, 0.85, 0.80};

typedef struct DemoProduct
{
	int			category;
	int			variant;
	int64		cost;			/* cents */
	int64		price[NUM_PRICE_LISTS]; /* cents */
} DemoProduct;

typedef struct PriceEntry
{
	int64		price;
	int			product;		/* product_id */
} PriceEntry;

static DemoProduct *catalog_products = NULL;	/* index product_id - 1 */
static int	catalog_nproducts = 0;
static PriceEntry *catalog_sorted[NUM_PRICE_LISTS];

/* a deterministic number in [0, 1) from two integers */
static double
hash_unit(uint64 a, uint64 b)
{
	uint64		x = a * UINT64CONST(0x9E3779B97F4A7C15) + b;

	return (double) (splitmix64(&x) >> 11) * (1.0 / 9007199254740992.0);
}

static int64
round_price_cents(double eur)
{
	int64		c;

	if (eur < 10.0)
		c = (int64) floor(eur * 10.0 + 0.5) * 10 - 1;	/* 3.49 */
	else if (eur < 100.0)
		c = (int64) floor(eur * 2.0 + 0.5) * 50 - 1;	/* 24.99, 25.49 */
	else
		c = (int64) floor(eur + 0.5) * 100 - 1;	/* 149.99 */
	return c < 49 ? 49 : c;
}

static int
cmp_price_entry(const void *a, const void *b)
{
	const PriceEntry *x = a;
	const PriceEntry *y = b;

	if (x->price != y->price)
		return x->price < y->price ? -1 : 1;
	return x->product - y->product;
}

static void
catalog_build(void)
{
	int			n = 0;
	DemoProduct *products;

	if (catalog_products != NULL)
		return;

	products = MemoryContextAlloc(TopMemoryContext,
								  sizeof(DemoProduct) * NUM_CATEGORIES * PRODUCTS_PER_LEAF);
	for (int c = 0; c < NUM_CATEGORIES; c++)
	{
		const DemoCategory *cat = &demo_categories[c];

		if (cat->noun == NULL)
			continue;
		for (int v = 0; v < PRODUCTS_PER_LEAF; v++)
		{
			DemoProduct *p = &products[n];
			double		pos = (v + hash_unit(n + 1, 1)) / PRODUCTS_PER_LEAF;
			double		eur = exp(log(cat->lo) + pos * (log(cat->hi) - log(cat->lo)));

			p->category = cat->id;
			p->variant = v;
			p->price[PL_RETAIL] = round_price_cents(eur);
			for (int l = 1; l < NUM_PRICE_LISTS; l++)
				p->price[l] = (int64) floor(p->price[PL_RETAIL] * price_list_factors[l] + 0.5);
			p->cost = (int64) floor(p->price[PL_RETAIL] * (0.42 + 0.20 * hash_unit(n + 1, 2)) + 0.5);
			n++;
		}
	}
	for (int l = 0; l < NUM_PRICE_LISTS; l++)
	{
		PriceEntry *e = MemoryContextAlloc(TopMemoryContext, sizeof(PriceEntry) * n);

		for (int i = 0; i < n; i++)
		{
			e[i].price = products[i].price[l];
			e[i].product = i + 1;
		}
		qsort(e, n, sizeof(PriceEntry), cmp_price_entry);
		catalog_sorted[l] = e;
	}
	catalog_nproducts = n;
	catalog_products = products;
}

/* index in catalog_sorted[list] of the product whose price is nearest */
static int
catalog_nearest(int list, double cents)
{
	const PriceEntry *e = catalog_sorted[list];
	int			lo = 0,
				hi = catalog_nproducts - 1;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if ((double) e[mid].price < cents)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && cents - (double) e[lo - 1].price < (double) e[lo].price - cents)
		lo--;
	return lo;
}

/* ------------------------------------------------------------------------
 * Profile data
 * ------------------------------------------------------------------------
 */
static const char *const first_names[] = {
	"Anna", "Ben", "Clara", "David", "Elena", "Felix", "Greta", "Hugo", "Ida",
	"Jonas", "Karin", "Lukas", "Marie", "Noah", "Olivia", "Paul", "Rosa",
	"Simon", "Tanja", "Uwe", "Vera", "Willem", "Yara", "Zoe", "Lea", "Max",
	"Sofia", "Leon", "Emma", "Finn", "Lina", "Elias", "Mia", "Jakob", "Nora",
	"Luca", "Julia", "Matteo", "Chloe", "Louis"
};
static const char *const last_names[] = {
	"Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
	"Becker", "Schulz", "Hoffmann", "Martin", "Bernard", "Dubois", "Laurent",
	"Rossi", "Russo", "Ferrari", "Garcia", "Lopez", "Martinez", "de Vries",
	"Jansen", "Bakker", "Nowak", "Kowalski", "Wisniewski", "Gruber", "Huber",
	"Peeters", "Janssens"
};
static const char *const company_words[] = {
	"Nordwind", "Alpen", "Blau", "Kronen", "Stern", "Rhein", "Atlas", "Delta",
	"Hansa", "Linden", "Meridian", "Orion", "Polaris", "Silva", "Vega"
};
static const char *const company_trades[] = {
	"Handel", "Logistik", "Gastro", "Bau", "Praxis", "Hotel", "Studio",
	"Werkstatt", "Catering", "Buero"
};
static const char *const industries[] = {
	"retail", "logistics", "hospitality", "construction", "healthcare",
	"hospitality", "media", "crafts", "hospitality", "services"
};

typedef struct DemoCity
{
	const char *country;
	const char *region;
	const char *city;
	const char *dial;			/* country and area code */
	const char *language;
	const char *legal_form;
	double		weight;
} DemoCity;

static const DemoCity demo_cities[] = {
	{"DE", "Berlin", "Berlin", "+49 30", "de", "GmbH", 10},
	{"DE", "Bavaria", "Munich", "+49 89", "de", "GmbH", 8},
	{"DE", "Hamburg", "Hamburg", "+49 40", "de", "GmbH", 7},
	{"DE", "North Rhine-Westphalia", "Cologne", "+49 221", "de", "GmbH", 7},
	{"DE", "Hesse", "Frankfurt am Main", "+49 69", "de", "GmbH", 5},
	{"DE", "Saxony", "Leipzig", "+49 341", "de", "GmbH", 4},
	{"AT", "Vienna", "Vienna", "+43 1", "de", "GmbH", 5},
	{"AT", "Styria", "Graz", "+43 316", "de", "GmbH", 2},
	{"FR", "Ile-de-France", "Paris", "+33 1", "fr", "SARL", 7},
	{"FR", "Auvergne-Rhone-Alpes", "Lyon", "+33 4", "fr", "SARL", 3},
	{"NL", "North Holland", "Amsterdam", "+31 20", "nl", "B.V.", 5},
	{"NL", "South Holland", "Rotterdam", "+31 10", "nl", "B.V.", 3},
	{"BE", "Brussels-Capital", "Brussels", "+32 2", "fr", "SRL", 3},
	{"IT", "Lombardy", "Milan", "+39 02", "it", "S.r.l.", 4},
	{"ES", "Community of Madrid", "Madrid", "+34 91", "es", "S.L.", 4},
	{"PL", "Masovia", "Warsaw", "+48 22", "pl", "Sp. z o.o.", 3}
};
#define NUM_CITIES lengthof(demo_cities)

static const char *const acquisition_channels[] = {
	"organic", "search", "social", "email", "referral", "store", "partner",
	"ads", "marketplace", "event"
};
static const double acquisition_weights[] = {22, 15, 10, 5, 8, 20, 3, 10, 5, 2};
static const double acquisition_cost_lo[] = {0, 12, 6, 2, 8, 0, 20, 18, 4, 30};
static const double acquisition_cost_hi[] = {0, 35, 25, 8, 20, 5, 50, 60, 15, 80};

#define NUM_MANAGERS	8		/* manager_01 .. manager_08 */
#define NUM_OWNERS		5		/* owners are manager_01 .. manager_05 */
static const char *const manager_names[NUM_MANAGERS] = {
	"manager_01", "manager_02", "manager_03", "manager_04", "manager_05",
	"manager_06", "manager_07", "manager_08"
};

/* order channels */
#define NUM_ORDER_CHANNELS 6
static const char *const order_channels[NUM_ORDER_CHANNELS] = {
	"store", "web", "app", "phone", "marketplace", "partner"
};
static const double person_channel_weights[NUM_ORDER_CHANNELS] = {45, 28, 17, 3, 5, 2};
static const double company_channel_weights[NUM_ORDER_CHANNELS] = {25, 25, 5, 25, 0, 20};
/* the interaction channel of a sale made on each order channel */
static const char *const sale_channels[NUM_ORDER_CHANNELS] = {
	"store", "web", "app", "phone", "web", "store"
};

/* consent channels */
#define NUM_CONSENT_CHANNELS 6
#define CC_EMAIL	0
#define CC_SMS		1
#define CC_PUSH		2
#define CC_PHONE	3
static const char *const consent_channels[NUM_CONSENT_CHANNELS] = {
	"email", "sms", "push", "phone", "messenger", "post"
};
static const double consent_grant_prob[NUM_CONSENT_CHANNELS] = {0.70, 0.35, 0.30, 0.40, 0.15, 0.20};

/* incidents */
#define NUM_INCIDENT_CATEGORIES 7
static const char *const incident_categories[NUM_INCIDENT_CATEGORIES] = {
	"question", "complaint", "return", "delivery", "billing", "technical", "other"
};
static const double incident_category_weights[NUM_INCIDENT_CATEGORIES] = {25, 15, 20, 15, 10, 10, 5};
static const char *const incident_subjects[NUM_INCIDENT_CATEGORIES][3] = {
	{"Question about a product", "Opening hours", "Loyalty points balance"},
	{"Damaged product", "Unfriendly service", "Wrong item delivered"},
	{"Return request", "Exchange request", "Refund not received"},
	{"Parcel not arrived", "Late delivery", "Delivery address change"},
	{"Charged twice", "Invoice correction", "Payment failed"},
	{"Cannot log in to the app", "Checkout error on the website", "App crashes"},
	{"Delete my data", "Feedback", "Other request"}
};
static const char *const incident_channels[] = {
	"phone", "email", "chat", "messenger", "web", "app", "store", "post"
};
static const double incident_channel_weights[] = {30, 30, 15, 5, 8, 5, 6, 1};
static const char *const priorities[] = {"low", "normal", "high", "urgent"};
static const double priority_weights[] = {20, 55, 20, 5};
static const double priority_due_days[] = {7, 3, 1, 0.25};

/* ------------------------------------------------------------------------
 * One simulated client
 * ------------------------------------------------------------------------
 */
typedef struct DemoLine
{
	int			product;
	int			quantity;
	int64		unit_price;		/* cents */
	int64		gross;
	int64		discount;
	int64		cost;
} DemoLine;

typedef struct DemoOrder
{
	double		t;				/* days relative to as_of */
	int			seq;			/* tie-breaker for sorting */
	int			channel;
	int			price_list;
	const char *status;
	bool		promo;
	int			discount_pct;
	int64		points;
	int			first_line;
	int			nlines;
	int64		gross,
				discount,
				net,
				cost;
	int			ref_kind;		/* 0 none, 1 marketplace, 2 partner */
	int64		ref_number;
} DemoOrder;

typedef struct DemoIncident
{
	double		opened,
				due,
				resolved;		/* resolved < opened: not resolved */
	int			seq;
	const char *channel;
	int			category;
	int			subject;
	const char *status;
	int			priority;
	int			assignee;
	int			order;			/* index into orders, -1: none */
} DemoIncident;

typedef struct DemoInteraction
{
	double		t;
	int			seq;
	const char *channel;
	const char *kind;
	const char *direction;
	const char *outcome;		/* NULL allowed */
	int			handled_by;		/* -1: none */
	const char *subject;		/* NULL allowed */
	int			order;			/* -1: none */
	int			incident;		/* -1: none */
	char		campaign[28];	/* "": none */
	char		payload[72];	/* "": {} */
} DemoInteraction;

typedef struct DemoConsent
{
	double		t;
	int			channel;
	bool		granted;
	const char *source;
} DemoConsent;

/* a purchase the behaviour script decided on, before it becomes an order */
typedef struct DemoPurchase
{
	double		t;
	double		not_before;		/* the daytime shift keeps t >= this */
	bool		promo;
	int			discount_pct;
} DemoPurchase;

typedef struct DemoOffer
{
	double		t;
	int			channel;		/* consent channel: email, sms or push */
	int			discount_pct;
	bool		responded;
	bool		opened;
	const char *prefix;			/* "offer" or "winback" */
} DemoOffer;

#define DEFINE_ARRAY(T, name) \
	T		   *name; \
	int			n_##name; \
	int			cap_##name

typedef struct DemoClient
{
	int64		id;
	int			archetype;
	bool		company;

	/* profile */
	int			first_name,
				last_name,
				company_word,
				company_trade;
	bool		has_first_name,
				has_email,
				has_phone;
	int			city;
	int64		phone_number;
	int			birth_days;		/* days before as_of's date */
	int			owner;			/* -1: none */
	int			acquisition;
	int64		acquisition_cost;	/* cents */
	int			employees;
	int64		vat_number;
	bool		newsletter;
	int			main_channel;
	double		engagement;		/* chance to open a campaign e-mail */
	double		created,
				updated;

	/* truth */
	double		first_purchase;
	double		rate;
	double		dropout_prob;	/* NaN: not a BG/NBD client */
	bool		dropped_out;
	double		dropout_t;
	double		nu;				/* Gamma-Gamma rate: mean spend = p / nu */
	double		earlier_rate;	/* NaN: none */
	double		changed_t;		/* NaN: none */
	double		response_prob;	/* NaN: none */

	DEFINE_ARRAY(DemoPurchase, purchases);
	DEFINE_ARRAY(DemoOffer, offers);
	DEFINE_ARRAY(DemoOrder, orders);
	DEFINE_ARRAY(DemoLine, lines);
	DEFINE_ARRAY(DemoIncident, incidents);
	DEFINE_ARRAY(DemoInteraction, interactions);
	DEFINE_ARRAY(DemoConsent, consents);
} DemoClient;

typedef struct DemoSim
{
	int64		seed;
	TimestampTz as_of;
	bool		noisy;			/* the widened archetypes (docs/demo.md) */
	double		as_of_days;		/* as_of in days since 2000-01-01 */
	int			nwindows;
	double		window_start[40];	/* seasonal peaks, relative days */
	double		window_end[40];
	MemoryContext cxt;			/* the arrays of client */
	DemoClient	client;
	DemoRng		rb,				/* behaviour */
				rs,				/* spend */
				rk,				/* basket */
				rc;				/* contact */
} DemoSim;

/* append one element to an array of the client, growing it as needed */
#define APPEND(sim, arr) \
	(((sim)->client.n_##arr >= (sim)->client.cap_##arr ? \
	  grow_array((sim), (void **) &(sim)->client.arr, &(sim)->client.cap_##arr, \
				 sizeof(*(sim)->client.arr)) : (void) 0), \
	 &(sim)->client.arr[(sim)->client.n_##arr++])

static void
grow_array(DemoSim *sim, void **arr, int *cap, Size elem)
{
	int			newcap = *cap < 16 ? 16 : *cap * 2;

	if (*arr == NULL)
		*arr = MemoryContextAlloc(sim->cxt, elem * newcap);
	else
		*arr = repalloc(*arr, elem * newcap);
	*cap = newcap;
}

/* ------------------------------------------------------------------------
 * Time helpers
 * ------------------------------------------------------------------------
 */
static TimestampTz
demo_ts(DemoSim *sim, double t)
{
	double		secs = floor(t * 86400.0);

	return sim->as_of + (int64) secs * USECS_PER_SEC;
}

/* calendar date (UTC) of a relative time */
static void
demo_ymd(DemoSim *sim, double t, int *y, int *m, int *d)
{
	TimestampTz ts = demo_ts(sim, t);
	int64		days = ts / USECS_PER_DAY;

	if (ts < 0 && ts % USECS_PER_DAY != 0)
		days--;
	j2date((int) days + POSTGRES_EPOCH_JDATE, y, m, d);
}

/* relative time of midnight UTC of a calendar date */
static double
demo_date_t(DemoSim *sim, int y, int m, int d)
{
	return (double) (date2j(y, m, d) - POSTGRES_EPOCH_JDATE) - sim->as_of_days;
}

/*
 * Move a time to a plausible time of day on the same UTC day (shops open
 * 8 to 20 h, the web 7 to 24 h), keeping it in [lo, 0); if that cannot be
 * done the time stays as it was.
 */
static double
daytime(DemoSim *sim, DemoRng *rng, double t, int channel, double lo)
{
	double		abs_t = sim->as_of_days + t;
	double		day = floor(abs_t);
	double		hour;
	double		nt;

	if (channel == 0 || channel == 3 || channel == 5)
		hour = rng_between(rng, 8.0, 20.0);
	else
		hour = 7.0 + 17.0 * sqrt(rng_unit(rng));	/* evening heavy */
	nt = day + hour / 24.0 - sim->as_of_days;
	if (nt >= 0.0 || nt < lo)
		return t;
	return nt;
}

static void
setup_windows(DemoSim *sim)
{
	int			y,
				m,
				d,
				y0;

	demo_ymd(sim, 0.0, &y, &m, &d);
	y0 = y - (int) (DEMO_HISTORY / 365.0) - 2;
	sim->nwindows = 0;
	for (int year = y0; year <= y; year++)
	{
		int			k = sim->nwindows;

		sim->window_start[k] = demo_date_t(sim, year, 3, 20);
		sim->window_end[k] = demo_date_t(sim, year, 4, 26);
		sim->window_start[k + 1] = demo_date_t(sim, year, 6, 15);
		sim->window_end[k + 1] = demo_date_t(sim, year, 8, 1);
		sim->window_start[k + 2] = demo_date_t(sim, year, 11, 20);
		sim->window_end[k + 2] = demo_date_t(sim, year + 1, 1, 1);
		sim->nwindows += 3;
	}
}

/* ------------------------------------------------------------------------
 * Behaviour scripts: fill client.purchases (and offers) in time order
 * ------------------------------------------------------------------------
 */
static DemoPurchase *
add_purchase(DemoSim *sim, double t)
{
	DemoPurchase *p = APPEND(sim, purchases);

	p->t = t;
	p->not_before = -DEMO_HISTORY - 400.0;
	p->promo = false;
	p->discount_pct = 0;
	return p;
}

/* purchases with gamma gaps of the given shape and mean from t until end */
static double
gamma_gaps(DemoSim *sim, double t, double end, double shape, double mean)
{
	DemoRng    *r = &sim->rb;

	for (;;)
	{
		t += rng_gamma_mean(r, shape, mean);
		if (t >= end)
			return t;
		add_purchase(sim, t);
	}
}

static void
behave_regular(DemoSim *sim)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rb;
	double		t;

	c->first_purchase = -rng_between(r, 0.0, DEMO_HISTORY);
	c->rate = rng_gamma(r, DEMO_R) / DEMO_ALPHA;
	c->dropout_prob = rng_beta(r, DEMO_A, DEMO_B);
	add_purchase(sim, c->first_purchase);
	t = c->first_purchase;
	for (;;)
	{
		t += rng_exp(r) / c->rate;
		if (t >= 0.0)
			break;
		add_purchase(sim, t);
		if (rng_chance(r, c->dropout_prob))
		{
			c->dropped_out = true;
			break;
		}
	}
}

static void
behave_loyal(DemoSim *sim)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rb;
	double		gap = sim->noisy ? rng_between(r, 5.0, 11.0) : rng_gamma_mean(r, 20.0, 7.5);
	double		t;

	c->first_purchase = -rng_between(r, 180.0, 730.0);
	c->rate = 1.0 / gap;
	add_purchase(sim, c->first_purchase);
	t = c->first_purchase;
	for (;;)
	{
		/* now and then a holiday of two to four weeks */
		if (rng_chance(r, 0.02))
			t += rng_between(r, 14.0, 28.0);
		else
			t += rng_gamma_mean(r, 4.0, gap);
		if (t >= 0.0)
			break;
		add_purchase(sim, t);
	}
}

static void
behave_promising(DemoSim *sim)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rb;
	double		gap = rng_gamma_mean(r, 12.0, 14.0);

	c->first_purchase = -rng_between(r, 25.0, 120.0);
	c->rate = 1.0 / gap;
	add_purchase(sim, c->first_purchase);
	gamma_gaps(sim, c->first_purchase, 0.0, 3.0, gap);
}

static void
behave_at_risk(DemoSim *sim)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rb;
	double		gap1 = rng_gamma_mean(r, 15.0, 8.0);
	double		gap2 = gap1 * rng_between(r, sim->noisy ? 2.5 : 3.5, 7.0);
	double		t;

	c->first_purchase = -rng_between(r, 330.0, 800.0);
	c->changed_t = -rng_between(r, 75.0, 150.0);
	c->earlier_rate = 1.0 / gap1;
	c->rate = 1.0 / gap2;
	add_purchase(sim, c->first_purchase);
	t = gamma_gaps(sim, c->first_purchase, c->changed_t, 4.0, gap1);
	/* the first slow gap starts at the last purchase before the change */
	t = c->n_purchases > 0 ? c->purchases[c->n_purchases - 1].t : t;
	gamma_gaps(sim, t, 0.0, 2.0, gap2);
}

static void
behave_drifting(DemoSim *sim)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rb;
	double		gap = rng_gamma_mean(r, 10.0, 6.0);
	double		t;

	c->first_purchase = -rng_between(r, 300.0, 900.0);
	c->rate = 1.0 / gap;
	add_purchase(sim, c->first_purchase);
	t = c->first_purchase;
	while (t < 0.0)
	{
		double		spell_end = t + rng_between(r, 20.0, 60.0);
		double		last;

		gamma_gaps(sim, t, spell_end < 0.0 ? spell_end : 0.0, 2.0, gap);
		last = c->purchases[c->n_purchases - 1].t;
		t = last + rng_between(r, 50.0, 150.0);
		if (t < 0.0)
			add_purchase(sim, t);
	}
}

static void
behave_about_to_lose(DemoSim *sim)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rb;
	double		gap = rng_gamma_mean(r, 6.0, 20.0);
	double		silence = gap * rng_between(r, 4.0, 9.0);
	double		stop;

	if (silence < 45.0)
		silence = rng_between(r, 45.0, 60.0);
	if (silence > 230.0)
		silence = rng_between(r, 190.0, 230.0);
	c->first_purchase = -rng_between(r, 300.0, DEMO_HISTORY);
	c->rate = 1.0 / gap;
	stop = -silence;
	c->changed_t = stop;
	add_purchase(sim, c->first_purchase);
	gamma_gaps(sim, c->first_purchase, stop, 3.0, gap);
	/* the last purchase comes shortly before the silence begins */
	add_purchase(sim, stop - rng_between(r, 0.0, Min(0.2 * gap, 10.0)));
	if (c->purchases[c->n_purchases - 1].t <= c->purchases[c->n_purchases - 2].t)
		c->n_purchases--;
}

static void
behave_seasonal(DemoSim *sim)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rb;
	static const double join_prob[3] = {0.45, 0.45, 0.9};
	double		birth = -rng_between(r, 200.0, DEMO_HISTORY);
	int			total = 0;

	for (int w = 0; w < sim->nwindows; w++)
	{
		double		s = sim->window_start[w];
		double		e = sim->window_end[w];
		int			n;
		double		times[3];

		if (s < birth)
			s = birth;
		if (e > 0.0)
			e = 0.0;
		if (e - s < 1.0)
			continue;
		/* the first window after arrival always brings a purchase */
		if (total > 0 && !rng_chance(r, join_prob[w % 3]))
			continue;
		/* two draws, in a fixed order (operands are not sequenced) */
		n = 1 + (rng_chance(r, 0.45) ? 1 : 0);
		n += rng_chance(r, 0.2) ? 1 : 0;
		for (int i = 0; i < n; i++)
			times[i] = rng_between(r, s, e);
		/* sort up to three */
		for (int i = 1; i < n; i++)
			for (int j = i; j > 0 && times[j] < times[j - 1]; j--)
			{
				double		x = times[j];

				times[j] = times[j - 1];
				times[j - 1] = x;
			}
		for (int i = 0; i < n; i++)
		{
			DemoPurchase *p = add_purchase(sim, times[i]);

			p->not_before = floor(sim->as_of_days + s) - sim->as_of_days;
		}
		total += n;
	}
	c->first_purchase = c->purchases[0].t;
	c->rate = total / -c->first_purchase;
}

static DemoOffer *
add_offer(DemoSim *sim, double t, const char *prefix)
{
	DemoOffer  *o = APPEND(sim, offers);

	o->t = t;
	o->channel = CC_EMAIL;
	o->discount_pct = 0;
	o->responded = false;
	o->opened = false;
	o->prefix = prefix;
	return o;
}

static void
behave_promo(DemoSim *sim)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rb;
	static const int pcts[] = {10, 15, 20, 25};
	double		every = rng_gamma_mean(r, 6.0, 50.0);
	double		t;
	bool		first = true;

	c->response_prob = rng_beta(r, 6.0, 4.0);
	t = -rng_between(r, 180.0, DEMO_HISTORY);
	while (t < 0.0)
	{
		DemoOffer  *o = add_offer(sim, t, "offer");

		o->discount_pct = pcts[rng_int(r, 4)];
		o->channel = rng_chance(r, 0.75) ? CC_EMAIL : (rng_chance(r, 0.6) ? CC_SMS : CC_PUSH);
		o->opened = rng_chance(r, 0.8);
		if (o->opened && (first || rng_chance(r, c->response_prob)))
		{
			double		pt = t + rng_between(r, 0.2, 3.5);

			if (pt < 0.0)
			{
				DemoPurchase *p = add_purchase(sim, pt);

				o->responded = true;
				/* noisy: now and then bought after the offer without its code */
				p->promo = !(sim->noisy && rng_chance(r, 1.0 / 7.0));
				p->discount_pct = p->promo ? o->discount_pct : 0;
				p->not_before = t + 0.2;
				first = false;
			}
		}
		t += rng_gamma_mean(r, 4.0, every);
	}
	if (c->n_purchases == 0)
	{
		/* the first offer always brings the first purchase */
		DemoOffer  *o = &c->offers[0];
		DemoPurchase *p;

		o->opened = o->responded = true;
		p = add_purchase(sim, o->t + 0.2 * (-o->t) * rng_unit(r));
		p->promo = true;
		p->discount_pct = o->discount_pct;
		p->not_before = o->t;
	}
	c->first_purchase = c->purchases[0].t;
	c->rate = c->response_prob * 0.8 / every;
}

static void
behave_lost(DemoSim *sim)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rb;
	double		gap = rng_gamma_mean(r, 6.0, 25.0);
	double		stop,
				last,
				t;
	int			noffers;

	c->first_purchase = -rng_between(r, 550.0, DEMO_HISTORY);
	stop = -rng_between(r, 365.0, -c->first_purchase - 60.0);
	c->rate = 1.0 / gap;
	add_purchase(sim, c->first_purchase);
	gamma_gaps(sim, c->first_purchase, stop, 3.0, gap);
	if (c->n_purchases < 2)
		add_purchase(sim, c->first_purchase + (stop - c->first_purchase) * rng_between(r, 0.3, 1.0));
	last = c->purchases[c->n_purchases - 1].t;
	c->dropped_out = true;
	c->changed_t = last;

	/* win-back offers after the last purchase, none answered */
	noffers = 2 + rng_int(r, 4);
	for (int i = 0; i < noffers; i++)
	{
		DemoOffer  *o;

		t = last + 30.0 + (-last - 31.0) * (i + rng_unit(r)) / noffers;
		o = add_offer(sim, t, "winback");
		o->discount_pct = 20;
		o->channel = rng_chance(r, 0.8) ? CC_EMAIL : CC_SMS;
		o->opened = rng_chance(r, 0.25);
	}
}

/*
 * The noisy mode's widening of a scripted client (docs/demo.md): about one
 * client in seven of the archetypes with a rhythm gets one purchase off
 * it, at a random time between its first and its last purchase; a quarter
 * of the seasonal sleepers one purchase out of season (January, February,
 * May, August, September or October).  Its own random stream, so that the
 * rest of the client is as in the clean mode.
 */
static void
widen_client(DemoSim *sim)
{
	DemoClient *c = &sim->client;
	DemoRng		r;

	rng_seed(&r, sim->seed, c->id, STREAM_NOISE);
	switch (c->archetype)
	{
		case ARCH_LOYAL:
		case ARCH_PROMISING:
		case ARCH_AT_RISK:
		case ARCH_DRIFTING:
		case ARCH_ABOUT_TO_LOSE:
		case ARCH_LOST:
			if (c->n_purchases >= 2 && rng_chance(&r, 1.0 / 7.0))
			{
				double		lo = c->purchases[0].t;
				double		hi = c->purchases[c->n_purchases - 1].t;

				add_purchase(sim, rng_between(&r, lo, hi));
			}
			break;
		case ARCH_SEASONAL:
			if (rng_chance(&r, 0.25))
			{
				double		lo = c->purchases[0].t;

				for (int tries = 0; tries < 50; tries++)
				{
					double		t = rng_between(&r, lo, -1.0);
					int			y,
								m,
								d;

					demo_ymd(sim, t, &y, &m, &d);
					if (m == 1 || m == 2 || m == 5 || (m >= 8 && m <= 10))
					{
						add_purchase(sim, t);
						break;
					}
				}
			}
			break;
		default:
			break;
	}
}

/* ------------------------------------------------------------------------
 * Consents
 * ------------------------------------------------------------------------
 */
static void
add_consent(DemoSim *sim, int channel, double t, bool granted, const char *source)
{
	DemoConsent *k = APPEND(sim, consents);

	k->channel = channel;
	k->t = t;
	k->granted = granted;
	k->source = source;
}

/*
 * Consent history, channel by channel in time order.  Channels in "keep"
 * are granted at creation and never withdrawn.
 */
static void
make_consents(DemoSim *sim, const bool *keep)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rc;

	for (int ch = 0; ch < NUM_CONSENT_CHANNELS; ch++)
	{
		double		p = consent_grant_prob[ch];
		double		t;

		if (ch == CC_PUSH && c->main_channel == 2)
			p = 0.7;
		if (ch == CC_PHONE && c->company)
			p = 0.8;
		if (keep[ch])
		{
			add_consent(sim, ch, c->created, true, "signup");
			continue;
		}
		if (!rng_chance(r, p))
			continue;
		if (rng_chance(r, 0.8))
			t = c->created;
		else
			t = c->created + (-c->created) * rng_unit(r) * 0.5;
		add_consent(sim, ch, t, true, t == c->created ? "signup" : "preference_centre");
		if (rng_chance(r, 0.12))
		{
			double		w = t + 1.0 + (-t - 1.0) * rng_unit(r);

			if (w < 0.0 && w > t + 1.0)
			{
				add_consent(sim, ch, w, false,
							ch == CC_EMAIL ? "unsubscribe_link" : "preference_centre");
				if (rng_chance(r, 0.25))
				{
					double		g = w + 1.0 + (-w - 1.0) * rng_unit(r);

					if (g < 0.0 && g > w + 1.0)
						add_consent(sim, ch, g, true, "preference_centre");
				}
			}
		}
	}
	c->updated = c->created;
	for (int i = 0; i < c->n_consents; i++)
		if (c->consents[i].t > c->updated)
			c->updated = c->consents[i].t;
}

/* whether the client's consent on the channel is in force at t */
static bool
consent_at(DemoClient *c, int channel, double t)
{
	bool		granted = false;

	for (int i = 0; i < c->n_consents; i++)
		if (c->consents[i].channel == channel && c->consents[i].t <= t)
			granted = c->consents[i].granted;	/* consents are in time order per channel */
	return granted;
}

/* ------------------------------------------------------------------------
 * Orders and lines
 * ------------------------------------------------------------------------
 */
static DemoLine *
add_line(DemoSim *sim, int product, int quantity, int list, int pct)
{
	DemoLine   *l = APPEND(sim, lines);
	const DemoProduct *p = &catalog_products[product - 1];

	l->product = product;
	l->quantity = quantity;
	l->unit_price = p->price[list];
	l->gross = l->unit_price * quantity;
	l->discount = (l->gross * pct + 50) / 100;
	l->cost = p->cost * quantity;
	return l;
}

/* lines coming as close as the catalogue allows to a gross target (cents) */
static void
make_lines(DemoSim *sim, DemoOrder *o, double target)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rk;
	static const double nline_weights[4] = {50, 28, 14, 8};
	int			n = 1 + rng_pick(r, nline_weights, 4);
	double		share[4],
				total = 0.0,
				done = 0.0;
	int			list = o->price_list;

	o->first_line = c->n_lines;
	if (target < 300.0 * n)
		n = target < 600.0 ? 1 : (int) (target / 300.0);
	if (n > 4)
		n = 4;
	for (int i = 0; i < n; i++)
		total += share[i] = rng_between(r, 0.5, 1.5);
	for (int i = 0; i < n; i++)
	{
		double		want = i < n - 1 ? target * share[i] / total : target - done;
		int			best_q = 1,
					best_k = 0;
		double		best_err = -1.0;

		if (want < 1.0)
			want = 1.0;
		/* quantities 1 to 3: the one whose nearest price fits best */
		for (int q = 1; q <= 3; q++)
		{
			int			k = catalog_nearest(list, want / q);
			double		err = fabs((double) catalog_sorted[list][k].price * q - want);

			/* bias towards quantity 1 on earlier lines, for variety */
			if (i < n - 1 && q > 1)
				err *= 1.0 + rng_unit(r);
			if (best_err < 0.0 || err < best_err)
			{
				best_err = err;
				best_q = q;
				best_k = k;
			}
		}
		/* earlier lines take a neighbour now and then, for variety */
		if (i < n - 1 && rng_chance(r, 0.5))
		{
			best_k += rng_chance(r, 0.5) ? 1 : -1;
			if (best_k < 0)
				best_k = 0;
			if (best_k >= catalog_nproducts)
				best_k = catalog_nproducts - 1;
		}
		{
			DemoLine   *l = add_line(sim, catalog_sorted[list][best_k].product, best_q,
									 list, o->discount_pct);

			done += (double) l->gross;
		}
	}
	o->nlines = c->n_lines - o->first_line;
	o->gross = o->discount = o->cost = 0;
	for (int i = o->first_line; i < c->n_lines; i++)
	{
		o->gross += c->lines[i].gross;
		o->discount += c->lines[i].discount;
		o->cost += c->lines[i].cost;
	}
	o->net = o->gross - o->discount;
}

static DemoOrder *
add_order(DemoSim *sim, double t, const char *status, bool promo, int pct)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rk;
	DemoOrder  *o = APPEND(sim, orders);
	double		value;

	o->t = t;
	o->seq = c->n_orders;
	o->status = status;
	o->promo = promo;
	o->discount_pct = pct;
	o->channel = rng_chance(r, 0.8) ? c->main_channel :
		rng_pick(r, c->company ? company_channel_weights : person_channel_weights,
				 NUM_ORDER_CHANNELS);
	o->price_list = promo ? PL_PROMO : (c->company ? PL_WHOLESALE : PL_RETAIL);
	o->points = 0;
	o->ref_kind = o->channel == 4 ? 1 : (o->channel == 5 ? 2 : 0);
	o->ref_number = (int64) (rng_unit(r) * 1e10);

	/* the net value: Gamma(p, rate nu), in cents; the gross before discount */
	value = rng_gamma(&sim->rs, DEMO_GG_P) / c->nu * 100.0;
	make_lines(sim, o, value / (1.0 - pct / 100.0));
	if (!c->company && strcmp(status, "paid") == 0 && rng_chance(r, 0.04))
	{
		o->points = 50 * (1 + rng_int(r, 20));
		if (o->points > o->net)
			o->points = o->net;
	}
	return o;
}

static int
cmp_order(const void *a, const void *b)
{
	const DemoOrder *x = a;
	const DemoOrder *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->seq - y->seq;
}

static void
make_orders(DemoSim *sim)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rk;

	for (int i = 0; i < c->n_purchases; i++)
	{
		DemoPurchase *p = &c->purchases[i];
		bool		promo = p->promo;
		int			pct = p->discount_pct;
		const char *status;
		double		t;
		DemoOrder  *o;

		/* a few promotional orders among clients who do not need offers */
		if (!promo && c->archetype != ARCH_PROMO && rng_chance(r, 0.05))
		{
			promo = true;
			pct = rng_chance(r, 0.5) ? 5 : 10;
		}
		status = (p->t > -3.0 && rng_chance(r, 0.7)) ? "placed" : "paid";
		o = add_order(sim, p->t, status, promo, pct);
		t = daytime(sim, r, p->t, o->channel, p->not_before);
		o->t = t;

		/* now and then an attempt that was cancelled or later refunded */
		if (rng_chance(r, 0.025))
		{
			double		et = t - rng_between(r, 5.0, 180.0) / 1440.0;

			if (et > p->not_before)
				add_order(sim, et, "cancelled", promo, pct);
		}
		if (rng_chance(r, 0.012))
		{
			double		et = t - rng_between(r, 30.0, 240.0) / 1440.0;

			if (et > p->not_before)
				add_order(sim, et, "refunded", promo, pct);
		}
	}
	qsort(c->orders, c->n_orders, sizeof(DemoOrder), cmp_order);
}

/* ------------------------------------------------------------------------
 * Interactions and incidents
 * ------------------------------------------------------------------------
 */
static DemoInteraction *
add_interaction(DemoSim *sim, double t, const char *channel, const char *kind,
				const char *direction, const char *outcome)
{
	DemoInteraction *x = APPEND(sim, interactions);

	x->t = t;
	x->seq = sim->client.n_interactions;
	x->channel = channel;
	x->kind = kind;
	x->direction = direction;
	x->outcome = outcome;
	x->handled_by = -1;
	x->subject = NULL;
	x->order = -1;
	x->incident = -1;
	x->campaign[0] = '\0';
	x->payload[0] = '\0';
	return x;
}

static int
some_manager(DemoSim *sim)
{
	DemoClient *c = &sim->client;

	if (c->owner >= 0 && rng_chance(&sim->rc, 0.7))
		return c->owner;
	return rng_int(&sim->rc, NUM_MANAGERS);
}

static void
campaign_name(DemoSim *sim, char *buf, const char *prefix, double t, bool with_day)
{
	int			y,
				m,
				d;

	demo_ymd(sim, t, &y, &m, &d);
	if (with_day)
		snprintf(buf, 28, "%s_%04d_%02d_%02d", prefix, y, m, d);
	else
		snprintf(buf, 28, "%s_%04d_%02d", prefix, y, m);
}

/* an outbound campaign message with its opens and clicks */
static void
campaign_message(DemoSim *sim, double t, int cc, const char *prefix, bool with_day,
				 const char *subject, bool opened, bool clicked, int pct)
{
	DemoRng    *r = &sim->rc;
	const char *channel = consent_channels[cc];
	DemoInteraction *x;
	char		name[28];

	campaign_name(sim, name, prefix, t, with_day);
	x = add_interaction(sim, t, channel, channel, "outbound",
						rng_chance(r, 0.02) && !opened ? "bounced" : "delivered");
	strcpy(x->campaign, name);
	x->subject = subject;
	if (pct > 0)
		snprintf(x->payload, sizeof(x->payload), "{\"discount_percent\": %d}", pct);
	if (cc == CC_SMS)
		return;					/* no opens for text messages */
	if (opened && strcmp(x->outcome, "delivered") == 0)
	{
		double		ot = t + rng_between(r, 0.003, 0.15);

		if (ot < 0.0)
		{
			x = add_interaction(sim, ot, channel, "campaign_open", "inbound", "opened");
			strcpy(x->campaign, name);
			if (clicked)
			{
				double		ct = ot + rng_between(r, 0.0005, 0.01);

				if (ct < 0.0)
				{
					x = add_interaction(sim, ct, channel, "campaign_click", "inbound", "clicked");
					strcpy(x->campaign, name);
				}
			}
		}
	}
}

static const char *const call_subjects[] = {
	"Order status", "Product question", "Follow-up", "Delivery date", "Opening hours"
};
static const char *const doc_subjects[] = {
	"Invoice", "Contract", "Price list", "Quotation", "Warranty certificate"
};

static double
random_time(DemoSim *sim, double from)
{
	return from + (-from) * rng_unit(&sim->rc);
}

static void
make_incidents(DemoSim *sim)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rc;
	double		age = -c->created;
	int			n = rng_poisson(r, age / 365.0 * (c->company ? 0.10 : 0.05));

	for (int i = 0; i < n; i++)
	{
		DemoIncident *inc = APPEND(sim, incidents);
		int			cat = rng_pick(r, incident_category_weights, NUM_INCIDENT_CATEGORIES);
		double		opened;

		inc->seq = i;
		inc->order = -1;
		/* complaints, returns, deliveries and billing usually concern an order */
		if (cat >= 1 && cat <= 4 && c->n_orders > 0 && rng_chance(r, 0.85))
		{
			int			k = rng_int(r, c->n_orders);

			opened = c->orders[k].t + rng_between(r, 0.1, 10.0);
			if (opened < 0.0)
				inc->order = k;
			else
				opened = random_time(sim, c->created);
		}
		else
			opened = random_time(sim, c->created);
		inc->opened = opened;
		inc->category = cat;
		inc->subject = rng_int(r, 3);
		inc->channel = incident_channels[rng_pick(r, incident_channel_weights,
												  lengthof(incident_channels))];
		inc->priority = rng_pick(r, priority_weights, 4);
		inc->due = opened + priority_due_days[inc->priority];
		inc->assignee = rng_chance(r, 0.95) ? 5 + rng_int(r, 3) : -1;
		inc->resolved = opened + rng_exp(r) * 2.0 * (inc->priority >= 2 ? 0.5 : 1.0);
		if (inc->resolved < 0.0 && !rng_chance(r, 0.03))
			inc->status = rng_chance(r, 0.6) ? "closed" : "resolved";
		else
		{
			static const char *const open_states[] = {"open", "in_progress", "waiting"};

			inc->status = open_states[rng_int(r, 3)];
			inc->resolved = -1e9;	/* not resolved */
			if (inc->assignee < 0)
				inc->status = "open";
		}
	}
}

static int
cmp_incident(const void *a, const void *b)
{
	const DemoIncident *x = a;
	const DemoIncident *y = b;

	if (x->opened != y->opened)
		return x->opened < y->opened ? -1 : 1;
	return x->seq - y->seq;
}

static int
cmp_interaction(const void *a, const void *b)
{
	const DemoInteraction *x = a;
	const DemoInteraction *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->seq - y->seq;
}

static void
make_interactions(DemoSim *sim)
{
	DemoClient *c = &sim->client;
	DemoRng    *r = &sim->rc;
	double		years = -c->created / 365.0;
	int			n;

	/* offers of the behaviour script (promo-dependent and lost clients) */
	for (int i = 0; i < c->n_offers; i++)
	{
		DemoOffer  *o = &c->offers[i];

		campaign_message(sim, o->t, o->channel, o->prefix, true,
						 o->responded || o->prefix[0] == 'o' ? "Your personal offer" : "We miss you",
						 o->opened, o->responded, o->discount_pct);
	}

	/* newsletters, to those who consented at the time */
	n = rng_poisson(r, years * 1.5);
	for (int i = 0; i < n; i++)
	{
		double		t = random_time(sim, c->created);

		if (consent_at(c, CC_EMAIL, t))
		{
			/*
			 * One draw per statement: the order in which a call's arguments
			 * are evaluated is up to the compiler, and the data must not be
			 * (click first, then open, as the generator has always drawn).
			 */
			bool		clicked = rng_chance(r, 0.3);
			bool		opened = rng_chance(r, c->engagement);

			campaign_message(sim, t, CC_EMAIL, "newsletter", false, "Newsletter",
							 opened, clicked, 0);
		}
	}
	/* push messages to app users */
	n = rng_poisson(r, years * 1.0);
	for (int i = 0; i < n; i++)
	{
		double		t = random_time(sim, c->created);

		if (consent_at(c, CC_PUSH, t))
		{
			/* one draw per statement, as for the newsletters */
			bool		clicked = rng_chance(r, 0.2);
			bool		opened = rng_chance(r, c->engagement * 0.6);

			campaign_message(sim, t, CC_PUSH, "push", true, "New in the app",
							 opened, clicked, 0);
		}
	}
	/* text messages: pick-up and delivery notices */
	n = rng_poisson(r, years * 0.5);
	for (int i = 0; i < n; i++)
	{
		double		t = random_time(sim, c->created);

		if (consent_at(c, CC_SMS, t))
		{
			DemoInteraction *x = add_interaction(sim, t, "sms", "sms", "outbound",
												 rng_chance(r, 0.03) ? "failed" : "delivered");

			x->subject = "Your order is ready for pick-up";
		}
	}
	/* calls */
	n = rng_poisson(r, years * (c->company ? 2.0 : 0.4));
	for (int i = 0; i < n; i++)
	{
		double		t = random_time(sim, c->created);
		bool		inbound = rng_chance(r, 0.5);
		DemoInteraction *x;

		x = add_interaction(sim, t, "phone", "call", inbound ? "inbound" : "outbound",
							inbound || rng_chance(r, 0.7) ? "completed" : "no_answer");
		x->handled_by = some_manager(sim);
		x->subject = call_subjects[rng_int(r, lengthof(call_subjects))];
		if (strcmp(x->outcome, "completed") == 0)
			snprintf(x->payload, sizeof(x->payload), "{\"duration_s\": %d}",
					 30 + rng_int(r, 900));
	}
	/* chats, for those who shop online */
	if (c->main_channel == 1 || c->main_channel == 2 || c->main_channel == 4)
	{
		n = rng_poisson(r, years * 0.5);
		for (int i = 0; i < n; i++)
		{
			DemoInteraction *x;

			/* one draw per statement, in the generator's order */
			const char *outcome = rng_chance(r, 0.9) ? "completed" : "replied";
			const char *channel = rng_chance(r, 0.7) ? "chat" : "messenger";
			double		t = random_time(sim, c->created);

			x = add_interaction(sim, t, channel, "chat", "inbound", outcome);
			x->handled_by = some_manager(sim);
			x->subject = call_subjects[rng_int(r, lengthof(call_subjects))];
		}
	}
	/* visits without a purchase */
	n = rng_poisson(r, years * 0.8);
	for (int i = 0; i < n; i++)
	{
		const char *channel = c->main_channel == 0 || c->main_channel == 5 ? "store" :
			(c->main_channel == 2 ? "app" : "web");
		DemoInteraction *x;

		x = add_interaction(sim, random_time(sim, c->created), channel, "visit",
							"inbound", "completed");
		if (channel[0] == 's')
			snprintf(x->payload, sizeof(x->payload), "{\"store\": \"%s\"}",
					 demo_cities[c->city].city);
		else
			snprintf(x->payload, sizeof(x->payload), "{\"pages\": %d}", 1 + rng_int(r, 12));
	}
	/* meetings and documents */
	n = rng_poisson(r, years * (c->company ? 2.0 : 0.0));
	for (int i = 0; i < n; i++)
	{
		DemoInteraction *x;

		/* one draw per statement, in the generator's order */
		const char *outcome = rng_chance(r, 0.85) ? "completed" : "cancelled";
		double		t = random_time(sim, c->created);

		x = add_interaction(sim, t, "meeting", "meeting", "outbound", outcome);
		x->handled_by = c->owner >= 0 ? c->owner : some_manager(sim);
		x->subject = rng_chance(r, 0.5) ? "Quarterly review" : "Product presentation";
	}
	n = rng_poisson(r, years * (c->company ? 2.0 : 0.2));
	for (int i = 0; i < n; i++)
	{
		DemoInteraction *x;

		/* one draw per statement, in the generator's order */
		const char *channel = rng_chance(r, 0.8) ? "email" : "post";
		double		t = random_time(sim, c->created);

		x = add_interaction(sim, t, channel, "document", "outbound", "delivered");
		x->handled_by = some_manager(sim);
		x->subject = doc_subjects[c->company ? rng_int(r, 4) : 4];
	}
	/* notes */
	n = rng_poisson(r, years * (c->company ? 1.0 : 0.2));
	for (int i = 0; i < n; i++)
	{
		DemoInteraction *x;

		x = add_interaction(sim, random_time(sim, c->created),
							c->company ? "meeting" : "phone", "note", "outbound", NULL);
		x->handled_by = some_manager(sim);
		x->subject = c->company ? "Account plan updated" : "Prefers contact in the evening";
	}
	/* a sale per order */
	for (int i = 0; i < c->n_orders; i++)
	{
		DemoOrder  *o = &c->orders[i];
		DemoInteraction *x;

		x = add_interaction(sim, o->t, sale_channels[o->channel], "sale", "inbound",
							strcmp(o->status, "cancelled") == 0 ? "cancelled" : "completed");
		x->order = i;
		if (o->channel == 0 || o->channel == 3 || o->channel == 5)
			x->handled_by = some_manager(sim);
	}
	/* incidents: the request, and the answer */
	for (int i = 0; i < c->n_incidents; i++)
	{
		DemoIncident *inc = &c->incidents[i];
		DemoInteraction *x;

		x = add_interaction(sim, inc->opened, inc->channel, "incident", "inbound", "completed");
		x->incident = i;
		x->order = inc->order;
		x->subject = incident_subjects[inc->category][inc->subject];
		if (inc->assignee >= 0)
		{
			double		t = inc->resolved > inc->opened ? inc->resolved :
				inc->opened + (-inc->opened) * rng_unit(r) * 0.5;
			bool		by_email = rng_chance(r, 0.6);

			x = add_interaction(sim, t, by_email ? "email" : "phone",
								by_email ? "email" : "call", "outbound", "completed");
			x->incident = i;
			x->order = inc->order;
			x->handled_by = inc->assignee;
			x->subject = incident_subjects[inc->category][inc->subject];
		}
	}
	qsort(c->interactions, c->n_interactions, sizeof(DemoInteraction), cmp_interaction);
}

/* ------------------------------------------------------------------------
 * The whole client
 * ------------------------------------------------------------------------
 */
static void
simulate_client(DemoSim *sim, int64 id)
{
	DemoClient *c = &sim->client;
	DemoRng		rp;
	bool		keep[NUM_CONSENT_CHANNELS] = {false};
	double		first_event;

	c->id = id;
	c->n_purchases = c->n_offers = c->n_orders = c->n_lines = 0;
	c->n_incidents = c->n_interactions = c->n_consents = 0;
	rng_seed(&rp, sim->seed, id, STREAM_PROFILE);
	rng_seed(&sim->rb, sim->seed, id, STREAM_BEHAVIOUR);
	rng_seed(&sim->rs, sim->seed, id, STREAM_SPEND);
	rng_seed(&sim->rk, sim->seed, id, STREAM_BASKET);
	rng_seed(&sim->rc, sim->seed, id, STREAM_CONTACT);

	/* profile */
	c->archetype = rng_pick(&rp, archetype_shares, NUM_ARCHETYPES);
	c->company = rng_chance(&rp, 0.10);
	c->first_name = rng_int(&rp, lengthof(first_names));
	c->last_name = rng_int(&rp, lengthof(last_names));
	c->has_first_name = rng_chance(&rp, 0.97);
	c->company_word = rng_int(&rp, lengthof(company_words));
	c->company_trade = rng_int(&rp, lengthof(company_trades));
	c->has_email = rng_chance(&rp, c->company ? 0.98 : 0.9);
	c->has_phone = rng_chance(&rp, c->company ? 0.98 : 0.85);
	{
		double		w[NUM_CITIES];

		for (int i = 0; i < NUM_CITIES; i++)
			w[i] = demo_cities[i].weight;
		c->city = rng_pick(&rp, w, NUM_CITIES);
	}
	c->phone_number = 1000000 + (int64) (rng_unit(&rp) * 8999999.0);
	c->birth_days = (int) (rng_between(&rp, 18.0, 85.0) * 365.25);
	c->owner = (c->company || rng_chance(&rp, 0.7)) ? rng_int(&rp, NUM_OWNERS) : -1;
	c->acquisition = rng_pick(&rp, acquisition_weights, lengthof(acquisition_channels));
	c->acquisition_cost = (int64) floor(rng_between(&rp, acquisition_cost_lo[c->acquisition],
													acquisition_cost_hi[c->acquisition]) * 100.0);
	c->employees = 2 + (int) rng_gamma_mean(&rp, 1.0, 40.0);
	c->vat_number = 100000000 + (int64) (rng_unit(&rp) * 899999999.0);
	c->newsletter = rng_chance(&rp, 0.5);
	c->main_channel = rng_pick(&rp, c->company ? company_channel_weights : person_channel_weights,
							   NUM_ORDER_CHANNELS);
	switch (c->archetype)
	{
		case ARCH_LOST:
			c->engagement = rng_beta(&rp, 1.0, 6.0);
			break;
		case ARCH_ABOUT_TO_LOSE:
			c->engagement = rng_beta(&rp, 1.5, 4.0);
			break;
		default:
			c->engagement = rng_beta(&rp, 2.0, 3.0);
	}

	/* behaviour */
	c->rate = 0.0;
	c->dropout_prob = c->earlier_rate = c->changed_t = c->response_prob = NAN;
	c->dropped_out = false;
	c->nu = rng_gamma(&sim->rs, DEMO_GG_Q) / DEMO_GG_V;
	switch (c->archetype)
	{
		case ARCH_REGULAR:
			behave_regular(sim);
			break;
		case ARCH_LOYAL:
			behave_loyal(sim);
			break;
		case ARCH_PROMISING:
			behave_promising(sim);
			break;
		case ARCH_AT_RISK:
			behave_at_risk(sim);
			break;
		case ARCH_DRIFTING:
			behave_drifting(sim);
			break;
		case ARCH_ABOUT_TO_LOSE:
			behave_about_to_lose(sim);
			break;
		case ARCH_SEASONAL:
			behave_seasonal(sim);
			break;
		case ARCH_PROMO:
			behave_promo(sim);
			break;
		case ARCH_LOST:
			behave_lost(sim);
			break;
	}
	if (sim->noisy)
		widen_client(sim);

	/* orders first: their time of day decides when the client record began */
	make_orders(sim);
	first_event = c->orders[0].t;
	if (c->n_offers > 0 && c->offers[0].t < first_event)
		first_event = c->offers[0].t;
	if (c->main_channel == 0 && rng_chance(&rp, 0.6))
		c->created = first_event - rng_between(&rp, 0.001, 0.01);
	else
		c->created = first_event - rng_between(&rp, 0.1, 30.0);

	if (c->archetype == ARCH_PROMO || c->archetype == ARCH_LOST)
	{
		keep[CC_EMAIL] = true;
		for (int i = 0; i < c->n_offers; i++)
			keep[c->offers[i].channel] = true;
	}
	make_consents(sim, keep);

	/* truth that depends on the final order times */
	c->first_purchase = c->orders[0].t;
	for (int i = 0; i < c->n_orders; i++)
		if (strcmp(c->orders[i].status, "cancelled") != 0 &&
			strcmp(c->orders[i].status, "refunded") != 0)
		{
			c->first_purchase = c->orders[i].t;
			break;
		}
	c->dropout_t = NAN;
	if (c->dropped_out)
	{
		for (int i = c->n_orders - 1; i >= 0; i--)
			if (strcmp(c->orders[i].status, "cancelled") != 0 &&
				strcmp(c->orders[i].status, "refunded") != 0)
			{
				c->dropout_t = c->orders[i].t;
				break;
			}
	}

	make_incidents(sim);
	qsort(c->incidents, c->n_incidents, sizeof(DemoIncident), cmp_incident);
	make_interactions(sim);
}

/* ------------------------------------------------------------------------
 * SQL-callable row functions
 * ------------------------------------------------------------------------
 */
typedef enum DemoTable
{
	DT_CLIENTS,
	DT_TRUTH,
	DT_CONSENTS,
	DT_ORDERS,
	DT_LINES,
	DT_INCIDENTS,
	DT_INTERACTIONS
} DemoTable;

static inline Datum
cents_datum(int64 cents)
{
	return NumericGetDatum(int64_div_fast_to_numeric(cents, 2));
}

static inline Datum
text_datum(const char *s)
{
	return PointerGetDatum(cstring_to_text(s));
}

static inline Datum
ts_datum(DemoSim *sim, double t)
{
	return TimestampTzGetDatum(demo_ts(sim, t));
}

static void
lower_letters(char *dst, const char *src, int size)
{
	int			n = 0;

	for (; *src && n < size - 1; src++)
		if ((*src >= 'A' && *src <= 'Z') || (*src >= 'a' && *src <= 'z'))
			dst[n++] = (*src >= 'A' && *src <= 'Z') ? *src - 'A' + 'a' : *src;
	dst[n] = '\0';
}

static void
emit_client(DemoSim *sim, DemoClient *c, Tuplestorestate *ts, TupleDesc desc)
{
	const DemoCity *city = &demo_cities[c->city];
	Datum		v[17];
	bool		n[17] = {false};
	char		buf[160],
				a[40],
				b[40];

	v[0] = Int64GetDatum(c->id);
	v[1] = text_datum(c->company ? "company" : "person");
	if (c->company)
	{
		v[2] = text_datum(first_names[c->first_name]);
		v[3] = text_datum(last_names[c->last_name]);
		snprintf(buf, sizeof(buf), "%s %s %s", company_words[c->company_word],
				 company_trades[c->company_trade], city->legal_form);
		v[4] = text_datum(buf);
		n[5] = true;
	}
	else
	{
		DateADT		as_of_date = (DateADT) floor(sim->as_of_days);
		DateADT		birth = as_of_date - c->birth_days;
		DateADT		min_birth = date2j(1900, 1, 1) - POSTGRES_EPOCH_JDATE;

		if (c->has_first_name)
			v[2] = text_datum(first_names[c->first_name]);
		else
			n[2] = true;
		v[3] = text_datum(last_names[c->last_name]);
		n[4] = true;
		v[5] = DateADTGetDatum(birth < min_birth ? min_birth : birth);
	}
	if (c->has_email)
	{
		if (c->company)
		{
			lower_letters(a, company_words[c->company_word], sizeof(a));
			lower_letters(b, company_trades[c->company_trade], sizeof(b));
			snprintf(buf, sizeof(buf), "office." INT64_FORMAT "@%s-%s.example.com", c->id, a, b);
		}
		else
		{
			lower_letters(a, first_names[c->first_name], sizeof(a));
			lower_letters(b, last_names[c->last_name], sizeof(b));
			snprintf(buf, sizeof(buf), "%s.%s." INT64_FORMAT "@example.com", a, b, c->id);
		}
		v[6] = text_datum(buf);
	}
	else
		n[6] = true;
	if (c->has_phone)
	{
		snprintf(buf, sizeof(buf), "%s " INT64_FORMAT, city->dial, c->phone_number);
		v[7] = text_datum(buf);
	}
	else
		n[7] = true;
	v[8] = text_datum(city->country);
	v[9] = text_datum(city->region);
	v[10] = text_datum(city->city);
	if (c->owner >= 0)
		v[11] = text_datum(manager_names[c->owner]);
	else
		n[11] = true;
	v[12] = text_datum(acquisition_channels[c->acquisition]);
	v[13] = cents_datum(c->acquisition_cost);
	if (c->company)
		snprintf(buf, sizeof(buf),
				 "{\"industry\": \"%s\", \"employees\": %d, \"vat_id\": \"%s" INT64_FORMAT "\"}",
				 industries[c->company_trade], c->employees, city->country, c->vat_number);
	else
		snprintf(buf, sizeof(buf), "{\"language\": \"%s\", \"newsletter\": %s}",
				 city->language, c->newsletter ? "true" : "false");
	v[14] = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf));
	v[15] = ts_datum(sim, c->created);
	v[16] = ts_datum(sim, c->updated);
	tuplestore_putvalues(ts, desc, v, n);
}

static void
emit_truth(DemoSim *sim, DemoClient *c, Tuplestorestate *ts, TupleDesc desc)
{
	Datum		v[11];
	bool		n[11] = {false};

	v[0] = Int64GetDatum(c->id);
	v[1] = text_datum(archetype_names[c->archetype]);
	v[2] = ts_datum(sim, c->first_purchase);
	v[3] = Float8GetDatum(c->rate);
	v[4] = Float8GetDatum(c->dropout_prob);
	n[4] = isnan(c->dropout_prob);
	v[5] = BoolGetDatum(c->dropped_out);
	v[6] = ts_datum(sim, isnan(c->dropout_t) ? 0.0 : c->dropout_t);
	n[6] = isnan(c->dropout_t);
	v[7] = Float8GetDatum(DEMO_GG_P / c->nu);
	v[8] = Float8GetDatum(c->earlier_rate);
	n[8] = isnan(c->earlier_rate);
	v[9] = ts_datum(sim, isnan(c->changed_t) ? 0.0 : c->changed_t);
	n[9] = isnan(c->changed_t);
	v[10] = Float8GetDatum(c->response_prob);
	n[10] = isnan(c->response_prob);
	tuplestore_putvalues(ts, desc, v, n);
}

static void
emit_consents(DemoSim *sim, DemoClient *c, Tuplestorestate *ts, TupleDesc desc)
{
	for (int i = 0; i < c->n_consents; i++)
	{
		DemoConsent *k = &c->consents[i];
		Datum		v[5];
		bool		n[5] = {false};

		v[0] = Int64GetDatum(c->id);
		v[1] = text_datum(consent_channels[k->channel]);
		v[2] = ts_datum(sim, k->t);
		v[3] = BoolGetDatum(k->granted);
		v[4] = text_datum(k->source);
		tuplestore_putvalues(ts, desc, v, n);
	}
}

static void
emit_orders(DemoSim *sim, DemoClient *c, Tuplestorestate *ts, TupleDesc desc, int64 first_order)
{
	for (int i = 0; i < c->n_orders; i++)
	{
		DemoOrder  *o = &c->orders[i];
		Datum		v[15];
		bool		n[15] = {false};
		char		buf[40];

		v[0] = Int64GetDatum(c->id);
		v[1] = Int64GetDatum(first_order + i);
		v[2] = ts_datum(sim, o->t);
		v[3] = text_datum(order_channels[o->channel]);
		v[4] = text_datum(o->status);
		v[5] = Int32GetDatum(o->price_list + 1);
		v[6] = text_datum("EUR");
		v[7] = cents_datum(o->gross);
		v[8] = cents_datum(o->discount);
		v[9] = cents_datum(o->net);
		v[10] = cents_datum(o->cost);
		v[11] = BoolGetDatum(o->promo);
		v[12] = Int64GetDatum(o->points);
		if (o->ref_kind == 1)
		{
			snprintf(buf, sizeof(buf), "MP-%010lld", (long long) o->ref_number);
			v[13] = text_datum(buf);
		}
		else if (o->ref_kind == 2)
		{
			snprintf(buf, sizeof(buf), "PO-" INT64_FORMAT "-%d", c->id, i + 1);
			v[13] = text_datum(buf);
		}
		else
			n[13] = true;
		v[14] = ts_datum(sim, o->t);
		tuplestore_putvalues(ts, desc, v, n);
	}
}

static void
emit_lines(DemoSim *sim, DemoClient *c, Tuplestorestate *ts, TupleDesc desc, int64 first_order)
{
	for (int i = 0; i < c->n_orders; i++)
	{
		DemoOrder  *o = &c->orders[i];

		for (int j = 0; j < o->nlines; j++)
		{
			DemoLine   *l = &c->lines[o->first_line + j];
			Datum		v[10];
			bool		n[10] = {false};

			v[0] = Int64GetDatum(c->id);
			v[1] = Int64GetDatum(first_order + i);
			v[2] = Int32GetDatum(j + 1);
			v[3] = Int64GetDatum(l->product);
			v[4] = NumericGetDatum(int64_to_numeric(l->quantity));
			v[5] = cents_datum(l->unit_price);
			v[6] = cents_datum(l->gross);
			v[7] = cents_datum(l->discount);
			v[8] = cents_datum(l->gross - l->discount);
			v[9] = cents_datum(l->cost);
			tuplestore_putvalues(ts, desc, v, n);
		}
	}
}

static void
emit_incidents(DemoSim *sim, DemoClient *c, Tuplestorestate *ts, TupleDesc desc,
			   int64 first_order, int64 first_incident)
{
	for (int i = 0; i < c->n_incidents; i++)
	{
		DemoIncident *inc = &c->incidents[i];
		Datum		v[13];
		bool		n[13] = {false};
		bool		resolved = inc->resolved >= inc->opened;

		v[0] = Int64GetDatum(c->id);
		v[1] = Int64GetDatum(first_incident + i);
		v[2] = ts_datum(sim, inc->opened);
		v[3] = text_datum(inc->channel);
		v[4] = text_datum(incident_categories[inc->category]);
		v[5] = text_datum(incident_subjects[inc->category][inc->subject]);
		n[6] = true;
		v[7] = text_datum(inc->status);
		v[8] = text_datum(priorities[inc->priority]);
		if (inc->assignee >= 0)
			v[9] = text_datum(manager_names[inc->assignee]);
		else
			n[9] = true;
		v[10] = ts_datum(sim, inc->due);
		v[11] = ts_datum(sim, resolved ? inc->resolved : 0.0);
		n[11] = !resolved;
		v[12] = Int64GetDatum(first_order + inc->order);
		n[12] = inc->order < 0;
		tuplestore_putvalues(ts, desc, v, n);
	}
}

static void
emit_interactions(DemoSim *sim, DemoClient *c, Tuplestorestate *ts, TupleDesc desc, Datum empty,
				  int64 first_order, int64 first_incident, int64 first_interaction)
{
	for (int i = 0; i < c->n_interactions; i++)
	{
		DemoInteraction *x = &c->interactions[i];
		Datum		v[13];
		bool		n[13] = {false};

		v[0] = Int64GetDatum(c->id);
		v[1] = Int64GetDatum(first_interaction + i);
		v[2] = ts_datum(sim, x->t);
		v[3] = text_datum(x->channel);
		v[4] = text_datum(x->kind);
		v[5] = text_datum(x->direction);
		if (x->outcome)
			v[6] = text_datum(x->outcome);
		else
			n[6] = true;
		if (x->handled_by >= 0)
			v[7] = text_datum(manager_names[x->handled_by]);
		else
			n[7] = true;
		if (x->campaign[0])
			v[8] = text_datum(x->campaign);
		else
			n[8] = true;
		if (x->subject)
			v[9] = text_datum(x->subject);
		else
			n[9] = true;
		v[10] = Int64GetDatum(first_order + x->order);
		n[10] = x->order < 0;
		v[11] = Int64GetDatum(first_incident + x->incident);
		n[11] = x->incident < 0;
		if (x->payload[0])
			v[12] = DirectFunctionCall1(jsonb_in, CStringGetDatum(x->payload));
		else
			v[12] = empty;
		tuplestore_putvalues(ts, desc, v, n);
	}
}

/*
 * The simulated clients of the last range asked for, kept per backend:
 * crm.generate_demo_data() asks each row function for the same range in
 * turn, and the clients need to be simulated only once.  The functions are
 * deterministic, so the cache is never stale.
 */
#define CACHE_MAX_CLIENTS 5000

typedef struct DemoCache
{
	MemoryContext cxt;
	int64		seed;
	TimestampTz as_of;
	bool		noisy;
	int64		first_client;
	int64		last_client;
	DemoClient *clients;
} DemoCache;

static DemoCache *demo_cache = NULL;

#define COPY_ARRAY(dst, src, arr) \
	do { \
		(dst)->arr = (src)->n_##arr > 0 ? \
			palloc(sizeof(*(src)->arr) * (src)->n_##arr) : NULL; \
		if ((src)->n_##arr > 0) \
			memcpy((dst)->arr, (src)->arr, sizeof(*(src)->arr) * (src)->n_##arr); \
		(dst)->cap_##arr = (src)->n_##arr; \
	} while (0)

static DemoCache *
cache_get(DemoSim *sim, int64 first_client, int64 last_client)
{
	DemoCache  *cache;
	MemoryContext cxt,
				old;

	if (demo_cache != NULL &&
		demo_cache->seed == sim->seed && demo_cache->as_of == sim->as_of &&
		demo_cache->noisy == sim->noisy &&
		demo_cache->first_client == first_client &&
		demo_cache->last_client == last_client)
		return demo_cache;

	if (demo_cache != NULL)
	{
		MemoryContextDelete(demo_cache->cxt);
		demo_cache = NULL;
	}
	cxt = AllocSetContextCreate(TopMemoryContext, "crm demo cache",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		cache = palloc(sizeof(DemoCache));
		cache->cxt = cxt;
		cache->seed = sim->seed;
		cache->as_of = sim->as_of;
		cache->noisy = sim->noisy;
		cache->first_client = first_client;
		cache->last_client = last_client;
		cache->clients = palloc(sizeof(DemoClient) * (last_client - first_client + 1));
		/* id never steps past last_client, which may be the largest bigint */
		for (int64 id = first_client;; id++)
		{
			DemoClient *dst = &cache->clients[id - first_client];
			DemoClient *src = &sim->client;

			CHECK_FOR_INTERRUPTS();
			MemoryContextSwitchTo(old);
			simulate_client(sim, id);
			MemoryContextSwitchTo(cxt);
			*dst = *src;
			COPY_ARRAY(dst, src, purchases);
			COPY_ARRAY(dst, src, offers);
			COPY_ARRAY(dst, src, orders);
			COPY_ARRAY(dst, src, lines);
			COPY_ARRAY(dst, src, incidents);
			COPY_ARRAY(dst, src, interactions);
			COPY_ARRAY(dst, src, consents);
			if (id == last_client)
				break;
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	demo_cache = cache;
	return cache;
}

static int64
positive_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	int64		v = PG_GETARG_INT64(argno);

	if (v < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at least 1: " INT64_FORMAT, name, v)));
	return v;
}

static void
check_as_of(TimestampTz as_of)
{
	/* room for the history window and the birth dates before it */
	if (TIMESTAMP_NOT_FINITE(as_of) ||
		as_of < (TimestampTz) (date2j(1910, 1, 1) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY ||
		as_of >= (TimestampTz) (date2j(10000, 1, 1) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must lie between 1910-01-01 and 9999-12-31: %s",
						timestamptz_to_str(as_of))));
}

/* A next number as a bigint (beyond bigint only when no row uses it). */
static inline int64
id64(int128 next)
{
	return (int64) Min(next, (int128) PG_INT64_MAX);
}

/*
 * The numbers next .. next + count - 1 that a client's rows take must stay
 * within bigint (a first_order_id near its largest value would wrap around
 * to negative numbers).
 */
static void
check_ids(int128 next, int count, FunctionCallInfo fcinfo, int argno,
		  const char *argname, const char *what)
{
	if (count > 0 && next + count - 1 > PG_INT64_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s " INT64_FORMAT " is too large: the %s numbered from it pass the largest bigint",
						argname, PG_GETARG_INT64(argno), what)));
}

/*
 * The common body of the client-data row functions:
 * (seed, as_of, first_client, last_client [, first_order_id
 * [, first_incident_id [, first_interaction_id]]]).
 */
static Datum
demo_rows(FunctionCallInfo fcinfo, DemoTable table)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DemoSim		sim;
	DemoCache  *cache = NULL;
	int64		first_client,
				last_client;

	/*
	 * the next numbers, in 128 bits so that advancing past the last one
	 * cannot overflow (check_ids refuses to emit one beyond bigint)
	 */
	int128		first_order = 1,
				first_incident = 1,
				first_interaction = 1;
	MemoryContext row_cxt,
				old;
	Datum		empty;
	int			nids;

	InitMaterializedSRF(fcinfo, 0);

	/* the numbering arguments of each table, then noisy */
	nids = table == DT_INTERACTIONS ? 3 : table == DT_INCIDENTS ? 2 :
		(table == DT_ORDERS || table == DT_LINES) ? 1 : 0;
	memset(&sim, 0, sizeof(sim));
	sim.seed = PG_GETARG_INT64(0);
	sim.as_of = PG_GETARG_TIMESTAMPTZ(1);
	sim.noisy = PG_NARGS() > 4 + nids && PG_GETARG_BOOL(4 + nids);
	check_as_of(sim.as_of);
	first_client = positive_arg(fcinfo, 2, "first_client");
	last_client = PG_GETARG_INT64(3);
	if (nids > 0)
		first_order = positive_arg(fcinfo, 4, "first_order_id");
	if (nids > 1)
		first_incident = positive_arg(fcinfo, 5, "first_incident_id");
	if (nids > 2)
		first_interaction = positive_arg(fcinfo, 6, "first_interaction_id");
	if (last_client < first_client)
		return (Datum) 0;

	catalog_build();
	sim.as_of_days = (double) sim.as_of / (double) USECS_PER_DAY;
	setup_windows(&sim);
	sim.cxt = AllocSetContextCreate(CurrentMemoryContext, "crm demo client",
									ALLOCSET_DEFAULT_SIZES);
	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "crm demo rows",
									ALLOCSET_DEFAULT_SIZES);
	empty = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	if (last_client - first_client < CACHE_MAX_CLIENTS)
		cache = cache_get(&sim, first_client, last_client);

	/* the loop ends at last_client without stepping past it: it may be the largest bigint */
	for (int64 id = first_client;; id++)
	{
		DemoClient *c;

		CHECK_FOR_INTERRUPTS();
		if (cache)
			c = &cache->clients[id - first_client];
		else
		{
			simulate_client(&sim, id);
			c = &sim.client;
		}
		if (nids > 0)
			check_ids(first_order, c->n_orders, fcinfo, 4, "first_order_id", "orders");
		if (nids > 1)
			check_ids(first_incident, c->n_incidents, fcinfo, 5, "first_incident_id",
					  "incidents");
		if (nids > 2)
			check_ids(first_interaction, c->n_interactions, fcinfo, 6,
					  "first_interaction_id", "interactions");
		old = MemoryContextSwitchTo(row_cxt);
		switch (table)
		{
			case DT_CLIENTS:
				emit_client(&sim, c, rsinfo->setResult, rsinfo->setDesc);
				break;
			case DT_TRUTH:
				emit_truth(&sim, c, rsinfo->setResult, rsinfo->setDesc);
				break;
			case DT_CONSENTS:
				emit_consents(&sim, c, rsinfo->setResult, rsinfo->setDesc);
				break;
			case DT_ORDERS:
				emit_orders(&sim, c, rsinfo->setResult, rsinfo->setDesc, id64(first_order));
				break;
			case DT_LINES:
				emit_lines(&sim, c, rsinfo->setResult, rsinfo->setDesc, id64(first_order));
				break;
			case DT_INCIDENTS:
				emit_incidents(&sim, c, rsinfo->setResult, rsinfo->setDesc,
							   id64(first_order), id64(first_incident));
				break;
			case DT_INTERACTIONS:
				emit_interactions(&sim, c, rsinfo->setResult, rsinfo->setDesc, empty,
								  id64(first_order), id64(first_incident),
								  id64(first_interaction));
				break;
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_cxt);
		first_order += c->n_orders;
		first_incident += c->n_incidents;
		first_interaction += c->n_interactions;
		if (id == last_client)
			break;
	}
	MemoryContextDelete(row_cxt);
	MemoryContextDelete(sim.cxt);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(demo_client_rows);
Datum
demo_client_rows(PG_FUNCTION_ARGS)
{
	return demo_rows(fcinfo, DT_CLIENTS);
}

PG_FUNCTION_INFO_V1(demo_truth_rows);
Datum
demo_truth_rows(PG_FUNCTION_ARGS)
{
	return demo_rows(fcinfo, DT_TRUTH);
}

PG_FUNCTION_INFO_V1(demo_consent_rows);
Datum
demo_consent_rows(PG_FUNCTION_ARGS)
{
	return demo_rows(fcinfo, DT_CONSENTS);
}

PG_FUNCTION_INFO_V1(demo_order_rows);
Datum
demo_order_rows(PG_FUNCTION_ARGS)
{
	return demo_rows(fcinfo, DT_ORDERS);
}

PG_FUNCTION_INFO_V1(demo_line_rows);
Datum
demo_line_rows(PG_FUNCTION_ARGS)
{
	return demo_rows(fcinfo, DT_LINES);
}

PG_FUNCTION_INFO_V1(demo_incident_rows);
Datum
demo_incident_rows(PG_FUNCTION_ARGS)
{
	return demo_rows(fcinfo, DT_INCIDENTS);
}

PG_FUNCTION_INFO_V1(demo_interaction_rows);
Datum
demo_interaction_rows(PG_FUNCTION_ARGS)
{
	return demo_rows(fcinfo, DT_INTERACTIONS);
}

/* ------------------------------------------------------------------------
 * The catalogue, the model and the archetypes as rows
 * ------------------------------------------------------------------------
 */
PG_FUNCTION_INFO_V1(demo_category_rows);
Datum
demo_category_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < NUM_CATEGORIES; i++)
	{
		Datum		v[3];
		bool		n[3] = {false};

		v[0] = Int32GetDatum(demo_categories[i].id);
		v[1] = Int32GetDatum(demo_categories[i].parent);
		n[1] = demo_categories[i].parent == 0;
		v[2] = text_datum(demo_categories[i].name);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(demo_product_rows);
Datum
demo_product_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	catalog_build();
	for (int i = 0; i < catalog_nproducts; i++)
	{
		const DemoProduct *p = &catalog_products[i];
		const DemoCategory *cat = NULL;
		Datum		v[5];
		bool		n[5] = {false};
		char		buf[80];

		for (int c = 0; c < NUM_CATEGORIES; c++)
			if (demo_categories[c].id == p->category)
				cat = &demo_categories[c];
		v[0] = Int64GetDatum(i + 1);
		snprintf(buf, sizeof(buf), "DEMO-%04d", i + 1);
		v[1] = text_datum(buf);
		snprintf(buf, sizeof(buf), "%s %s", cat->noun, product_variants[p->variant]);
		v[2] = text_datum(buf);
		v[3] = Int32GetDatum(p->category);
		v[4] = cents_datum(p->cost);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(demo_price_list_rows);
Datum
demo_price_list_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < NUM_PRICE_LISTS; i++)
	{
		Datum		v[5];
		bool		n[5] = {false};

		v[0] = Int32GetDatum(i + 1);
		v[1] = text_datum(price_list_codes[i]);
		v[2] = text_datum(price_list_names[i]);
		v[3] = text_datum(price_list_kinds[i]);
		v[4] = text_datum("EUR");
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(demo_price_rows);
Datum
demo_price_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	catalog_build();
	for (int l = 0; l < NUM_PRICE_LISTS; l++)
		for (int i = 0; i < catalog_nproducts; i++)
		{
			Datum		v[3];
			bool		n[3] = {false};

			v[0] = Int32GetDatum(l + 1);
			v[1] = Int64GetDatum(i + 1);
			v[2] = cents_datum(catalog_products[i].price[l]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
		}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(demo_model);
Datum
demo_model(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		v[8];
	bool		n[8] = {false};

	InitMaterializedSRF(fcinfo, 0);
	v[0] = Float8GetDatum(DEMO_R);
	v[1] = Float8GetDatum(DEMO_ALPHA);
	v[2] = Float8GetDatum(DEMO_A);
	v[3] = Float8GetDatum(DEMO_B);
	v[4] = Float8GetDatum(DEMO_GG_P);
	v[5] = Float8GetDatum(DEMO_GG_Q);
	v[6] = Float8GetDatum(DEMO_GG_V);
	v[7] = Float8GetDatum(DEMO_HISTORY);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(demo_archetypes);
Datum
demo_archetypes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < NUM_ARCHETYPES; i++)
	{
		Datum		v[3];
		bool		n[3] = {false};

		v[0] = text_datum(archetype_names[i]);
		v[1] = Float8GetDatum(archetype_shares[i]);
		v[2] = text_datum(archetype_descriptions[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	return (Datum) 0;
}
