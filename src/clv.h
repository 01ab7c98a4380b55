/*-------------------------------------------------------------------------
 *
 * src/clv.h
 *
 * Customer lifetime value models: the shared declarations of the fit state
 * type crm.clv_fit_state (distinct client summaries with their counts), the
 * special functions, the optimiser and the per-model likelihoods.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CRM_CLV_H
#define CRM_CLV_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"

/* which model a fit state collects rows for */
#define CLV_KIND_BGNBD		1
#define CLV_KIND_PARETO		2
#define CLV_KIND_GAMMA		3

#define CLV_STATE_MAGIC		0x434C	/* "CL" */

/*
 * BG/NBD fits whose a + b pass CLV_BGNBD_KAPPA_SWITCH are tried again on the
 * boundary a + b = CLV_BGNBD_KAPPA_CAP (see clv_bgnbd_final); predictions
 * switch to an expansion around the mean drop-out probability from
 * a >= CLV_BGNBD_A_EXPAND on (see clv_bgnbd_expected_v).
 */
#define CLV_BGNBD_KAPPA_SWITCH	1.0e4
#define CLV_BGNBD_KAPPA_CAP		1.0e10
#define CLV_BGNBD_A_EXPAND		1000.0

/* 2F1 series terms a Pareto/NBD fit may sum: this plus 20,000 per distinct (x, t) pair */
#define CLV_PARETO_WORK_BUDGET	20000000

/* largest frequency accepted: beyond it a double no longer counts exactly */
#define CLV_MAX_FREQUENCY	1.0e9

/*
 * One distinct client summary and how many clients share it.  For BG/NBD and
 * Pareto/NBD v = (frequency, recency, t); for Gamma-Gamma v = (frequency,
 * monetary, 0).
 */
typedef struct ClvRow
{
	double		v[3];
	int64		count;
} ClvRow;

/*
 * The fit state, a varlena: a header, `capacity` row slots of which the
 * first `nrows` are used, then 2 * capacity int32 hash slots holding a row
 * index or -1.  Everything is position independent, so a copy of the bytes
 * is a valid state.
 */
typedef struct ClvFitState
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint16		magic;
	uint8		kind;			/* CLV_KIND_* */
	uint8		reserved;		/* 0 */
	int32		nrows;
	int32		capacity;
	int64		nclients;		/* sum of the counts */
	double		penalty;		/* L2 penalty coefficient */
	ClvRow		rows[FLEXIBLE_ARRAY_MEMBER];
} ClvFitState;

#define CLV_STATE_HDRSZ		offsetof(ClvFitState, rows)
#define CLV_STATE_SIZE(cap) \
	(CLV_STATE_HDRSZ + (Size) (cap) * sizeof(ClvRow) + (Size) (cap) * 2 * sizeof(int32))
#define CLV_STATE_SLOTS(st) \
	((int32 *) ((char *) (st) + CLV_STATE_HDRSZ + (Size) (st)->capacity * sizeof(ClvRow)))

/* src/clv_sort.c: sorts with the comparison inlined */
typedef struct ClvValueIndex
{
	double		value;
	int			index;
} ClvValueIndex;
extern void clv_sort_rows(ClvRow *rows, size_t n);
extern void clv_sort_values(ClvValueIndex *pairs, size_t n);

/* the fit state as flat arrays, built by the final functions */
typedef struct ClvData
{
	int			n;				/* distinct rows */
	double	   *x;
	double	   *tx;				/* recency, or monetary for Gamma-Gamma */
	double	   *T;
	double	   *w;				/* counts */
	double		wsum;
	double		penalty;
} ClvData;

/*
 * An error without the context of the statement that met it: the CLV
 * functions run inside the queries of crm.clv_report and crm.ltv_cac, whose
 * text is no help to their caller.
 */
#define CLV_ERROR(...) \
	do { \
		if (!clv_keep_context) \
			error_context_stack = NULL; \
		ereport(ERROR, __VA_ARGS__); \
	} while (0)

/* set while crm.clv_fit_state's text input runs: its errors point into the query */
extern bool clv_keep_context;

/* clv_state.c */
extern bool clv_fit_soft;
extern bool clv_unidentified(const char *model, const char *message,
							 const char *detail);
extern Datum clv_fit_or_null(PGFunction final, FunctionCallInfo fcinfo);

/*
 * CLV_FIT_OR_NULL(final) defines final##_or_null, the final function of a
 * fit_or_null aggregate: the fit's final function run by clv_fit_or_null
 * (the fit, or where the data cannot identify the model or the fit does
 * not converge, a notice and null).
 */
#define CLV_FIT_OR_NULL(final) \
	PG_FUNCTION_INFO_V1(final##_or_null); \
	Datum \
	final##_or_null(PG_FUNCTION_ARGS) \
	{ \
		return clv_fit_or_null(final, fcinfo); \
	}
extern ClvFitState *clv_state_detoast(Datum d);
extern void clv_state_to_data(const ClvFitState *st, ClvData *data);
extern double clv_scaled_time_data(const ClvFitState *st, ClvData *data,
								   const char *model);
extern double clv_median_rescale(ClvData *data);
extern char *clv_fmt(double v);
extern const char *clv_kind_name(int kind);
extern void clv_validate_row(int kind, const double *v);
extern void clv_model_params(HeapTupleHeader model, int nparams,
							 const char *const *names, const char *typname,
							 double *out);
extern Datum clv_model_result(FunctionCallInfo fcinfo, int nparams,
							  const double *params, double loglik, int64 n,
							  int iterations, bool converged);
extern const char *clv_fit_why;
extern void clv_set_fit_why(const char *fmt,...) pg_attribute_printf(1, 2);
extern void clv_notice_not_converged(TupleDesc tupdesc, int iterations);
extern bool clv_model_check(FunctionCallInfo fcinfo, TupleDesc tupdesc,
							int nparams, const double *params, double loglik,
							int iterations, bool converged);
extern double clv_finite(double value, const char *what, const char *typname,
						 const char *const *names, const double *params,
						 int nparams, const char *const *vnames,
						 const double *v, int nv);
extern int	clv_unique(const double *v, int n, double **uniq, int **index);
extern int	clv_unique_pairs(const double *a, const double *b, int n,
							 double **ua, double **ub, int **index);
extern double clv_log1pexp(double x);
extern double clv_logistic_neg(double x);

/* clv_special.c */
extern double clv_digamma(double x);
extern double clv_log_hyp2f1_c_eq_a_plus_1(double a, double b, double z,
										   double log1mz);
extern double clv_log_s_series(double e, double c, double z, double *dle,
							   double *dlc, double *dlz);
extern double clv_hyp2f1_series_tail(double A, double a, double C, double z,
									 double lscale);
extern double clv_lgamma_ratio(double y, double x);
extern void clv_series_work_reset(void);
extern int64 clv_series_work(void);
extern double clv_digamma_diff(double y, double x);

/* clv_optim.c */
typedef double (*ClvObjective) (const double *theta, double *grad, void *arg);

typedef struct ClvOptimResult
{
	double		fval;
	int			iterations;
	bool		converged;
} ClvOptimResult;

extern void clv_bfgs(int n, double *theta, ClvObjective fn, void *arg,
					 int maxiter, double gtol, ClvOptimResult *res);
extern bool clv_check_start(int n, const double *theta, ClvObjective fn,
							void *arg, const char *model);
extern bool clv_kappa_refit(const double *theta, double *params,
							ClvOptimResult *res, ClvObjective capped, void *arg);

/*
 * clv_hessian.c: standard errors and covariance of the fits.  A model
 * composite may end with std_errors float8[] and covariance float8[]
 * (after converged); clv_model_result_cov fills them.
 */
#define CLV_MAXPARAMS		4
extern double clv_trigamma(double x);
extern bool clv_spd_inverse(int n, const double *a, double *inv);
extern bool clv_covariance_from_hessian(int n, const double *theta,
										const double *hth, const double *g,
										double wsum, const double *unscale,
										double *cov);
extern bool clv_covariance(int n, ClvObjective fn, void *arg,
						   const double *theta, double wsum,
						   const double *unscale, double *cov);
extern Datum clv_model_result_cov(FunctionCallInfo fcinfo, int nparams,
								  const double *params, const double *cov,
								  double loglik, int64 n, int iterations,
								  bool converged);

/* likelihoods, exposed for the hand-checked tests */
extern double clv_bgnbd_row_ll(double r, double alpha, double a, double b,
							   double x, double tx, double T);
extern double clv_pareto_row_ll(double r, double alpha, double s, double beta,
								double x, double tx, double T);
extern double clv_gamma_row_ll(double p, double q, double v, double x,
							   double m);

/* the names in messages of a summary's fields and of the spend model's */
extern const char *const clv_summary_names[3];
extern const char *const clv_gamma_names[3];
extern const char *const clv_spend_names[2];

/* Gamma-Gamma expected spend per transaction (src/clv_gammagamma.c) */
extern double clv_gamma_spend_v(const double *p, double x, double m);

/*
 * A transaction model as the discounted value sees it: its expected
 * purchases by time t of a client with summary (x, tx, T), and the names
 * its messages use.  Each model file (src/clv_bgnbd.c,
 * src/clv_paretonbd.c) defines one and hands it to clv_discounted.
 */
typedef struct ClvTransactionModel
{
	const char *expected_label; /* "BG/NBD expected purchases" */
	const char *arg_name;		/* "bgnbd_model" */
	const char *const *param_names; /* its four parameters */
	double		(*expected) (const double *p, double t, double x, double tx, double T);
	/* optional: P(alive) and E[Y(t) | alive], whose product is expected */
	double		(*p_alive) (const double *p, double x, double tx, double T);
	double		(*expected_alive) (const double *p, double t, double x, double T);
	/* optional: expected_alive at n <= CLV_MULTI_MAX horizons t[] at once */
	void		(*expected_alive_multi) (const double *p, const double *t, int n,
										 double x, double T, double *out);
} ClvTransactionModel;

#define CLV_MULTI_MAX	16		/* horizons per expected_alive_multi call */

extern const ClvTransactionModel clv_bgnbd_tmodel;
extern const ClvTransactionModel clv_pareto_tmodel;
extern double clv_bgnbd_p_alive_v(const double *p, double x, double tx, double T);
extern double clv_bgnbd_expected_v(const double *p, double t, double x,
								   double tx, double T);
extern double clv_bgnbd_expected_alive_v(const double *p, double t, double x,
										 double T);
extern double clv_pareto_p_alive_v(const double *p, double x, double tx, double T);
extern double clv_pareto_expected_v(const double *p, double t, double x,
									double tx, double T);
extern double clv_pareto_expected_alive_v(const double *p, double t, double x,
										  double T);

/* the discounted value and its horizon (src/clv_value.c) */
extern double clv_horizon(double t);
extern double clv_discounted(FunctionCallInfo fcinfo, const ClvTransactionModel *model,
							 const double *p, const double *v);
extern double clv_discounted_v(const ClvTransactionModel *model, const double *p,
							   const double *v, const double *g, double m,
							   double horizon, double rate, double period);
extern void clv_discount_args(double horizon, double rate, double period);

/* src/clv_predict.c: the parameters of a model argument, decoded once per query */
extern double clv_bgnbd_pmf_v(const double *p, double n, double t, double x,
							  double tx, double T);
extern double clv_pareto_pmf_v(const double *p, double n, double t, double x,
							   double tx, double T);
extern void clv_model_params_cached(FunctionCallInfo fcinfo, int argno,
									int nparams, const char *const *names,
									const char *typname, double *out);

/*
 * The MBG/NBD (src/clv_mbgnbd.c) and BG/BB (src/clv_bgbb.c) models.  The
 * MBG/NBD fit reads the BG/NBD state (the same summaries); BG/BB has its
 * own kind of state, rows (frequency, recency, periods) in whole periods.
 */
#define CLV_KIND_BGBB		4
#define CLV_BGBB_MAX_PERIODS	1.0e6

extern void clv_bgbb_validate_row(const double *v);
extern double clv_mbgnbd_row_ll(double r, double alpha, double a, double b,
								double x, double tx, double T);
extern double clv_bgbb_row_ll(const double *p, double x, double tx, double n);

#endif							/* CRM_CLV_H */
