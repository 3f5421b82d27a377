<?php
/**
 * Sends the posts published before the plugin was set up: a button on the settings page starts a
 * WP-Cron job that pushes 50 posts a run, newest first, until none is left.
 *
 * @package RelatedHeadlines
 */

namespace RelatedHeadlines;

defined( 'ABSPATH' ) || exit;

/**
 * The backfill job.
 */
final class Backfill {

	const HOOK   = 'related_headlines_backfill';
	const STATE  = 'related_headlines_backfill'; // An option: where the job is.
	const ACTION = 'related_headlines_backfill'; // The admin-post action and its nonce.
	const BATCH  = 50;

	/**
	 * Hooks the button and the job.
	 */
	public function register() {
		add_action( 'admin_post_' . self::ACTION, array( $this, 'start' ) );
		add_action( self::HOOK, array( $this, 'run_batch' ) );
	}

	/**
	 * The settings page's section: the job's state and its button.
	 */
	public static function render_section() {
		$state = get_option( self::STATE, array() );
		echo '<h2>' . esc_html__( 'Posts published before', 'related-headlines' ) . '</h2>';
		echo '<p>' . esc_html__( 'Posts are sent when they are published or updated. To send every published post now (in the background, 50 at a time), start the job below.', 'related-headlines' ) . '</p>';
		if ( is_array( $state ) && ! empty( $state['started'] ) ) {
			$message = empty( $state['finished'] )
				/* translators: 1: posts sent, 2: posts to send, 3: posts that failed. */
				? __( 'Sending: %1$s of %2$s sent, %3$s failed.', 'related-headlines' )
				/* translators: 1: posts sent, 2: posts to send, 3: posts that failed. */
				: __( 'Done: %1$s of %2$s sent, %3$s failed.', 'related-headlines' );
			echo '<p>' . esc_html( sprintf( $message, number_format_i18n( (int) $state['sent'] ), number_format_i18n( (int) $state['total'] ), number_format_i18n( (int) $state['failed'] ) ) );
			if ( ! empty( $state['error'] ) ) {
				echo ' ' . esc_html( sprintf( /* translators: %s: the service's error. */ __( 'Last error: %s', 'related-headlines' ), $state['error'] ) );
			}
			echo '</p>';
		}
		echo '<form action="' . esc_url( admin_url( 'admin-post.php' ) ) . '" method="post">';
		echo '<input type="hidden" name="action" value="' . esc_attr( self::ACTION ) . '">';
		wp_nonce_field( self::ACTION );
		submit_button( __( 'Send all published posts', 'related-headlines' ), 'secondary', 'submit', false );
		echo '</form>';
	}

	/**
	 * The button: checks capability and nonce, then starts the job.
	 */
	public function start() {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'related-headlines' ), 403 );
		}
		check_admin_referer( self::ACTION );
		update_option(
			self::STATE,
			array(
				'before'   => PHP_INT_MAX,
				'sent'     => 0,
				'failed'   => 0,
				'total'    => self::count(),
				'started'  => time(),
				'finished' => 0,
				'error'    => '',
			),
			false
		);
		wp_clear_scheduled_hook( self::HOOK );
		wp_schedule_single_event( time(), self::HOOK );
		wp_safe_redirect( admin_url( 'options-general.php?page=' . Settings::PAGE ) );
		exit;
	}

	/**
	 * One run of the job: the next 50 posts in one request (or one by one when the service refuses the
	 * batch), then the next run.
	 */
	public function run_batch() {
		$state  = get_option( self::STATE );
		$client = Plugin::client();
		if ( ! is_array( $state ) || ! empty( $state['finished'] ) || ! $client->configured() ) {
			return;
		}
		$ids = self::next_ids( (int) $state['before'] );
		if ( ! $ids ) {
			$state['finished'] = time();
			update_option( self::STATE, $state, false );
			return;
		}
		$articles = array();
		foreach ( $ids as $id ) {
			$post    = get_post( $id );
			$article = $post && 'push' === Sync::action_for( $post, '' ) ? Sync::article( $post ) : null;
			if ( is_array( $article ) ) {
				$articles[] = $article;
			}
		}
		$result = $articles ? $client->push_many( $articles ) : array( 'ok' => true );
		if ( $result['ok'] ) {
			$state['sent'] += count( $articles );
		} elseif ( $result['retry'] ) { // The service is away: the same batch in 5 minutes.
			$state['error'] = $result['error'];
			update_option( self::STATE, $state, false );
			Sync::log( 'backfill batch failed (' . $result['error'] . '); trying again in 5 minutes' );
			wp_schedule_single_event( time() + 5 * MINUTE_IN_SECONDS, self::HOOK );
			return;
		} else { // One article refused refuses the batch: send them one by one.
			foreach ( $articles as $article ) {
				$one = $client->push( $article );
				if ( $one['ok'] ) {
					++$state['sent'];
				} else {
					++$state['failed'];
					$state['error'] = $one['error'];
					Sync::log( 'backfill of ' . $article['id'] . ' failed (' . $one['error'] . ')' );
				}
			}
		}
		$state['before'] = min( $ids );
		update_option( self::STATE, $state, false );
		wp_schedule_single_event( time(), self::HOOK );
	}

	/**
	 * The post types whose posts are pushed.
	 */
	private static function post_types() {
		return array_values( array_filter( get_post_types( array( 'public' => true ) ), 'is_post_type_viewable' ) );
	}

	/**
	 * How many published posts there are to send.
	 */
	private static function count() {
		global $wpdb;
		$types = self::post_types();
		if ( ! $types ) {
			return 0;
		}
		$in = implode( ', ', array_fill( 0, count( $types ), '%s' ) );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		return (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(*) FROM {$wpdb->posts} WHERE post_status = 'publish' AND post_password = '' AND post_type IN ($in)", $types ) );
	}

	/**
	 * IDs of the next published posts, newest (highest ID) first, below an ID.
	 *
	 * @param int $before Only IDs below it.
	 */
	private static function next_ids( $before ) {
		global $wpdb;
		$types = self::post_types();
		if ( ! $types ) {
			return array();
		}
		$in = implode( ', ', array_fill( 0, count( $types ), '%s' ) );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$ids = $wpdb->get_col( $wpdb->prepare( "SELECT ID FROM {$wpdb->posts} WHERE post_status = 'publish' AND post_password = '' AND post_type IN ($in) AND ID < %d ORDER BY ID DESC LIMIT %d", array_merge( $types, array( min( $before, PHP_INT_MAX ), self::BATCH ) ) ) );
		return array_map( 'intval', $ids );
	}
}
