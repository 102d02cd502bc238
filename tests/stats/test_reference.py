"""Every statistic against an independent implementation, on real data, to 1e-8 relative.

References: numpy (moments, quantiles, cov, corrcoef), statsmodels (OLS, Logit),
scipy.stats (ttest_ind). None of them shares code with TensorFlow's kernels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from tensorledger.stats import correlation, covariance, describe, logit, ols, ttest

RTOL = 1e-8
LOGIT_FEATURES = ["mean radius", "mean texture", "mean smoothness"]


def test_describe_diabetes_matches_numpy(diabetes: pd.DataFrame) -> None:
    result = describe(diabetes, quantiles=(0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0))
    assert [c.name for c in result.columns] == list(diabetes.columns)
    for summary in result.columns:
        values = diabetes[summary.name].to_numpy()
        assert summary.count == len(values)
        # The features are centred by scikit-learn, so their true means are 0
        # and numpy's value is rounding noise (~1e-18): no relative comparison
        # is meaningful. The atol is 1e-15 of the column's largest magnitude,
        # well above summation noise (n·eps·max|x| ≈ 1e-13·max|x| at worst,
        # ≈ 1e-17 observed) and far below any real mean.
        np.testing.assert_allclose(
            summary.mean, values.mean(), rtol=RTOL, atol=1e-15 * np.abs(values).max()
        )
        np.testing.assert_allclose(summary.variance, values.var(ddof=1), rtol=RTOL)
        np.testing.assert_allclose(summary.std, values.std(ddof=1), rtol=RTOL)
        assert summary.min == values.min()
        assert summary.max == values.max()
        np.testing.assert_allclose(summary.quantiles, np.quantile(values, result.levels), rtol=RTOL)


def test_describe_breast_cancer_matches_numpy(cancer: pd.DataFrame) -> None:
    columns = ["mean radius", "mean texture", "mean smoothness", "worst area"]
    result = describe(cancer, columns=columns)
    for summary in result.columns:
        values = cancer[summary.name].to_numpy()
        np.testing.assert_allclose(summary.mean, values.mean(), rtol=RTOL)
        np.testing.assert_allclose(summary.variance, values.var(ddof=1), rtol=RTOL)
        np.testing.assert_allclose(summary.quantiles, np.quantile(values, result.levels), rtol=RTOL)


def test_covariance_and_correlation_diabetes_match_numpy(diabetes: pd.DataFrame) -> None:
    columns = list(diabetes.columns)
    matrix = diabetes[columns].to_numpy()
    cov = covariance(diabetes, columns)
    corr = correlation(diabetes, columns)
    assert cov.columns == tuple(columns) and cov.n == len(diabetes)
    np.testing.assert_allclose(cov.as_array(), np.cov(matrix, rowvar=False), rtol=RTOL)
    np.testing.assert_allclose(corr.as_array(), np.corrcoef(matrix, rowvar=False), rtol=RTOL)


@pytest.mark.parametrize("add_intercept", [True, False])
def test_ols_diabetes_matches_statsmodels(
    diabetes: pd.DataFrame, diabetes_features: list[str], add_intercept: bool
) -> None:
    result = ols(diabetes, "target", diabetes_features, add_intercept=add_intercept)
    exog = diabetes[diabetes_features]
    ref = sm.OLS(diabetes["target"], sm.add_constant(exog) if add_intercept else exog).fit()
    assert list(result.columns) == list(ref.params.index)
    np.testing.assert_allclose(result.coefficients, ref.params, rtol=RTOL)
    np.testing.assert_allclose(result.standard_errors, ref.bse, rtol=RTOL)
    np.testing.assert_allclose(result.t_values, ref.tvalues, rtol=RTOL)
    np.testing.assert_allclose(result.p_values, ref.pvalues, rtol=RTOL)
    np.testing.assert_allclose(result.r_squared, ref.rsquared, rtol=RTOL)
    np.testing.assert_allclose(result.adj_r_squared, ref.rsquared_adj, rtol=RTOL)
    np.testing.assert_allclose(result.residual_std_error, np.sqrt(ref.scale), rtol=RTOL)
    np.testing.assert_allclose(result.rss, ref.ssr, rtol=RTOL)
    np.testing.assert_allclose(result.f_statistic, ref.fvalue, rtol=RTOL)
    np.testing.assert_allclose(result.f_p_value, ref.f_pvalue, rtol=RTOL)
    assert (result.n, result.df_model, result.df_resid) == (
        ref.nobs,
        ref.df_model,
        ref.df_resid,
    )


def test_logit_breast_cancer_matches_statsmodels(cancer: pd.DataFrame) -> None:
    result = logit(cancer, "target", LOGIT_FEATURES)
    ref = sm.Logit(cancer["target"], sm.add_constant(cancer[LOGIT_FEATURES])).fit(
        method="newton", tol=1e-12, maxiter=100, disp=0
    )
    assert result.converged and ref.mle_retvals["converged"]
    assert list(result.columns) == list(ref.params.index)
    np.testing.assert_allclose(result.coefficients, ref.params, rtol=RTOL)
    np.testing.assert_allclose(result.standard_errors, ref.bse, rtol=RTOL)
    np.testing.assert_allclose(result.z_values, ref.tvalues, rtol=RTOL)
    np.testing.assert_allclose(result.p_values, ref.pvalues, rtol=RTOL)
    np.testing.assert_allclose(result.log_likelihood, ref.llf, rtol=RTOL)
    # statsmodels finds ll₀ by numerical optimisation (Nelder-Mead then BFGS);
    # ours is the closed form n·(ȳ log ȳ + (1-ȳ) log(1-ȳ)), so they differ by
    # statsmodels' optimiser tolerance (~1e-10), still well inside 1e-8.
    np.testing.assert_allclose(result.null_log_likelihood, ref.llnull, rtol=RTOL)
    np.testing.assert_allclose(result.pseudo_r_squared, ref.prsquared, rtol=RTOL)
    assert (result.n, result.df_model, result.df_resid) == (
        ref.nobs,
        ref.df_model,
        ref.df_resid,
    )


@pytest.mark.parametrize("equal_var", [False, True])
def test_ttest_mean_radius_by_diagnosis_matches_scipy(
    cancer: pd.DataFrame, equal_var: bool
) -> None:
    malignant = cancer.loc[cancer["target"] == 0, "mean radius"].to_numpy()
    benign = cancer.loc[cancer["target"] == 1, "mean radius"].to_numpy()
    result = ttest(cancer, "mean radius", "target", equal_var=equal_var)
    ref = stats.ttest_ind(malignant, benign, equal_var=equal_var)
    assert result.groups == (0, 1)
    assert (result.n_a, result.n_b) == (len(malignant), len(benign))
    np.testing.assert_allclose(result.t, ref.statistic, rtol=RTOL)
    np.testing.assert_allclose(result.df, ref.df, rtol=RTOL)
    np.testing.assert_allclose(result.p, ref.pvalue, rtol=RTOL)
    np.testing.assert_allclose(result.mean_a, malignant.mean(), rtol=RTOL)
    np.testing.assert_allclose(result.mean_b, benign.mean(), rtol=RTOL)
    np.testing.assert_allclose(result.difference, malignant.mean() - benign.mean(), rtol=RTOL)
    np.testing.assert_allclose(result.var_a, malignant.var(ddof=1), rtol=RTOL)
    arrays = ttest(malignant, benign, equal_var=equal_var)
    assert (arrays.t, arrays.df, arrays.p) == (result.t, result.df, result.p)


def test_ttest_groups_choose_the_order(cancer: pd.DataFrame) -> None:
    forward = ttest(cancer, "mean radius", "target", groups=(0, 1))
    backward = ttest(cancer, "mean radius", "target", groups=(1, 0))
    assert backward.t == -forward.t
    assert backward.p == forward.p
    labelled = cancer.assign(diagnosis=np.where(cancer["target"] == 0, "malignant", "benign"))
    named = ttest(labelled, "mean radius", "diagnosis", groups=("malignant", "benign"))
    assert named.t == forward.t
    assert named.groups == ("malignant", "benign")
